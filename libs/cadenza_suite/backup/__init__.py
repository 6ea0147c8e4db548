"""`cadenza backup` and `cadenza restore`: all five stores as one consistent set.

What each store contributes (see README "Backup and restore" for the reasons):

- PostgreSQL, the system of record: a base backup (`pg_basebackup`, WAL included) plus the
  continuous WAL archive the launcher keeps, so a restore can stop at any instant (`--at`).
- MinIO: a copy of every object of every bucket, each checked against its sha256.
- Milvus and Neo4j: rebuilt from metadata after PostgreSQL is back, by the orchestrator's rebuild
  (`python -m cadenza_orchestrator.rebuild`, run as a child process). Both are projections of it:
  every embedding the saga wrote is recorded in its job (annotation `saga_stored`), every graph
  node and lineage edge comes from a track row. A rebuild is consistent with metadata by
  construction, whichever instant the other stores were copied at.
- Redis: not backed up; a restore starts it empty (cache, rate-limit windows, locks and pub/sub
  are derived or ephemeral, and a cache from another instant than PostgreSQL would serve stale
  jobs and tracks).
"""
