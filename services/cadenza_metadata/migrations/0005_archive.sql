-- Archive tables: ArchiveRecords moves old finished jobs, their events and old audit rows here
-- in one transaction. They keep every column of the live table plus when the row was archived;
-- a migration that adds a column to a live table adds it here too.

CREATE TABLE jobs_archive (LIKE jobs INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE jobs_archive
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (id);
CREATE INDEX jobs_archive_user_created_idx ON jobs_archive (user_id, created_at, id);
CREATE INDEX jobs_archive_created_idx ON jobs_archive (created_at, id);

CREATE TABLE job_events_archive (LIKE job_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE job_events_archive
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (job_id, sequence);

CREATE TABLE audit_logs_archive (LIKE audit_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE audit_logs_archive
    ALTER COLUMN id DROP DEFAULT,
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (id);
CREATE INDEX audit_logs_archive_created_idx ON audit_logs_archive (created_at, id);
