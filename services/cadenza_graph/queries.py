"""Every Cypher statement of the service.

All values travel as parameters. The only text ever formatted into a statement is a path-length
bound, a validated int in 1..50: Cypher does not accept parameters there.

Model: (:User {id})-[:CREATED]->(:Track {id, created_at, updated_at}),
(:Track)-[:HAS_TAG]->(:Tag {name}), (:Track)-[:GENERATED_WITH]->(:ModelVersion {name}),
(child:Track)-[:DERIVED_FROM {op, strength, created_at}]->(parent:Track). Ids are resource names
("tracks/x", "users/y"); times are seconds since the epoch.
"""

from __future__ import annotations

from functools import lru_cache

from cadenza_runtime.rules.limits import MAX_LINEAGE_DEPTH as MAX_DEPTH

# Constraints double as the lookup indexes of every query's starting node. DERIVED_FROM gets no
# property index: traversals start from an indexed Track and follow relationships, never search them.
SCHEMA = (
    "CREATE CONSTRAINT track_id IF NOT EXISTS FOR (n:Track) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT tag_name IF NOT EXISTS FOR (n:Tag) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT model_version_name IF NOT EXISTS FOR (n:ModelVersion) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT lineage_lock_name IF NOT EXISTS FOR (n:LineageLock) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT graph_version_name IF NOT EXISTS FOR (n:GraphVersion) REQUIRE n.name IS UNIQUE",
)
AWAIT_INDEXES = "CALL db.awaitIndexes(120)"


def _track_map(var: str) -> str:
    return (
        f"{{id: {var}.id, created_at: {var}.created_at, "
        f"user: head([({var})<-[:CREATED]-(own:User) | own.id]), "
        f"model_version: head([({var})-[:GENERATED_WITH]->(ver:ModelVersion) | ver.name]), "
        f"tags: [({var})-[:HAS_TAG]->(lbl:Tag) | lbl.name]}}"
    )


def _edge_map(var: str) -> str:
    return (
        f"{{child: startNode({var}).id, parent: endNode({var}).id, op: {var}.op, "
        f"strength: {var}.strength, created_at: {var}.created_at}}"
    )


# --- writes -------------------------------------------------------------------------------------

# Concurrent records of one track run one after another: the creating MERGE holds the Track.id
# constraint's lock until commit, and setting updated_at write-locks an existing node. So the owner
# check that follows always sees the CREATED edge of whichever record came first.
MERGE_TRACK = """
MERGE (t:Track {id: $track})
  ON CREATE SET t.created_at = $created_at
SET t.updated_at = $now
RETURN head([(t)<-[:CREATED]-(u:User) | u.id]) AS user,
       head([(t)-[:GENERATED_WITH]->(m:ModelVersion) | m.name]) AS model_version
"""

# Tags are replaced by the given set (retagging); owner and model version only ever get added.
LINK_TRACK = f"""
MATCH (t:Track {{id: $track}})
MERGE (u:User {{id: $user}})
MERGE (u)-[:CREATED]->(t)
WITH t
CALL (t) {{
  MATCH (t)-[old:HAS_TAG]->(g:Tag) WHERE NOT g.name IN $tags
  DELETE old
}}
CALL (t) {{
  UNWIND $tags AS name
  MERGE (g:Tag {{name: name}})
  MERGE (t)-[:HAS_TAG]->(g)
}}
CALL (t) {{
  UNWIND CASE WHEN $model_version IS NULL THEN [] ELSE [$model_version] END AS name
  MERGE (m:ModelVersion {{name: name}})
  MERGE (t)-[:GENERATED_WITH]->(m)
}}
RETURN {_track_map("t")} AS track
"""

# One lock node serialises lineage writes: two edges recorded concurrently could each pass the cycle
# check alone and close a cycle together. Lineage writes are one per generation, so this is cheap.
LOCK_LINEAGE = """
MERGE (l:LineageLock {name: 'lineage'})
SET l.version = coalesce(l.version, 0) + 1
"""

LINEAGE_STATE = f"""
OPTIONAL MATCH (c:Track {{id: $child}})
OPTIONAL MATCH (p:Track {{id: $parent}})
OPTIONAL MATCH (c)-[e:DERIVED_FROM]->(p)
RETURN c IS NOT NULL AS has_child, p IS NOT NULL AS has_parent,
       CASE WHEN e IS NULL THEN null ELSE {_edge_map("e")} END AS edge
"""

# The new edge closes a cycle exactly when the child is already an ancestor of the parent.
# shortestPath is a breadth-first search, so it stays cheap on wide lineage DAGs.
LINEAGE_CYCLE = """
MATCH (c:Track {id: $child}), (p:Track {id: $parent})
OPTIONAL MATCH path = shortestPath((p)-[:DERIVED_FROM*]->(c))
RETURN length(path) AS hops
"""

MERGE_LINEAGE = f"""
MATCH (c:Track {{id: $child}}), (p:Track {{id: $parent}})
MERGE (c)-[e:DERIVED_FROM]->(p)
  ON CREATE SET e.op = $op, e.strength = $strength, e.created_at = $created_at
RETURN {_edge_map("e")} AS edge
"""

DELETE_TRACK = """
MATCH (t:Track {id: $track})
DETACH DELETE t
RETURN count(*) AS deleted
"""

# --- reads --------------------------------------------------------------------------------------

GET_TRACK = f"""
MATCH (t:Track {{id: $track}})
RETURN {_track_map("t")} AS track
"""


@lru_cache(maxsize=2 * MAX_DEPTH)
def lineage(direction: str, max_depth: int) -> str:
    """Ancestors ("up") or descendants ("down") to max_depth, one page after a (depth, id) cursor.

    Each track appears once, at its shortest distance; among equally short paths the strongest one
    (largest product of strengths) gives the weight and the edge. No row means no such track.
    """
    if direction not in ("up", "down") or not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"bad lineage query {direction!r} {max_depth!r}")
    hop = "-[:DERIVED_FROM]->" if direction == "up" else "<-[:DERIVED_FROM]-"
    return f"""
MATCH (start:Track {{id: $track}})
CALL (start) {{
  MATCH p = ALL SHORTEST (start){hop}{{1,{max_depth:d}}}(other:Track)
  WITH other, length(p) AS depth, relationships(p) AS rels
  WITH other, depth, reduce(w = 1.0, r IN rels | w * r.strength) AS weight, last(rels) AS edge
  ORDER BY weight DESC
  WITH other, depth, head(collect({{weight: weight, edge: edge}})) AS best
  WHERE depth > $after_depth OR (depth = $after_depth AND other.id > $after_id)
  WITH other, depth, best
  ORDER BY depth, other.id
  LIMIT $limit
  RETURN collect({{track: {_track_map("other")}, depth: depth, weight: best.weight,
                   edge: {_edge_map("best.edge")}}}) AS entries
}}
RETURN entries
"""


# Relevance of a candidate r to track t:
#   sum over tags shared by t and r of 1 / ln(1 + tracks carrying the tag)
#   + the largest product of strengths over lineage paths between t and r (either direction, 1..3 hops).
# A shared rare tag says more than a shared common one; a close, strong derivation says the most.
# Tags on more than $max_tag_tracks tracks are too common to tell anything and are not expanded.
RELATED = f"""
MATCH (t:Track {{id: $track}})
CALL (t) {{
  CALL (t) {{
    MATCH (t)-[:HAS_TAG]->(g:Tag)
    WITH g, COUNT {{ (g)<-[:HAS_TAG]-() }} AS carriers
    WHERE carriers <= $max_tag_tracks
    MATCH (g)<-[:HAS_TAG]-(r:Track)
    WHERE r <> t
    RETURN r, 1.0 / log(1.0 + carriers) AS tag_score, g.name AS tag, 0.0 AS lineage
    UNION ALL
    MATCH p = (t)-[:DERIVED_FROM*1..3]-(r:Track)
    WHERE r <> t
    RETURN r, 0.0 AS tag_score, null AS tag, reduce(w = 1.0, e IN relationships(p) | w * e.strength) AS lineage
  }}
  WITH r, sum(tag_score) AS tag_score, collect(DISTINCT tag) AS shared, max(lineage) AS lineage
  WITH r, tag_score + lineage AS score, shared
  ORDER BY score DESC, r.id
  LIMIT $limit
  RETURN collect({{track: {_track_map("r")}, score: score, shared_tags: shared}}) AS related
}}
RETURN related
"""


def shortest_path(max_depth: int) -> str:
    """Shortest path over any relationship in either direction, up to max_depth hops.

    One row: whether each end exists, the path's nodes, and the type and direction (seen from the
    walk from a to b) of each relationship; empty lists when there is no path.
    """
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ValueError(f"bad path bound {max_depth!r}")
    return f"""
OPTIONAL MATCH (a:Track {{id: $from_track}})
OPTIONAL MATCH (b:Track {{id: $to_track}})
OPTIONAL MATCH p = shortestPath((a)-[*..{max_depth:d}]-(b))
RETURN a IS NOT NULL AS has_from, b IS NOT NULL AS has_to,
       [n IN nodes(p) | {{kind: head(labels(n)), id: coalesce(n.id, n.name)}}] AS nodes,
       [i IN range(0, coalesce(length(p), 0) - 1) | {{
          type: type(relationships(p)[i]),
          direction: CASE WHEN startNode(relationships(p)[i]) = nodes(p)[i] THEN 'OUT' ELSE 'IN' END
       }}] AS relationships
"""


NEIGHBORS = """
MATCH (t:Track {id: $track})
CALL (t) {
  MATCH (t)-[r]-(n)
  WITH type(r) AS relationship,
       CASE WHEN startNode(r) = t THEN 'OUT' ELSE 'IN' END AS direction,
       head(labels(n)) AS kind, coalesce(n.id, n.name) AS id
  WHERE [relationship, direction, kind, id] > $after
  ORDER BY relationship, direction, kind, id
  LIMIT $limit
  RETURN collect({relationship: relationship, direction: direction, kind: kind, id: id}) AS neighbors
}
RETURN neighbors
"""

# Tags without tracks (left behind by deletes) are not central to anything.
_TAG_DEGREES = """
MATCH (g:Tag)
WITH g.name AS tag, COUNT { (g)<-[:HAS_TAG]-() } AS tracks
WHERE tracks > 0
RETURN tag, tracks
"""
TOP_TAG_DEGREES = _TAG_DEGREES + "ORDER BY tracks DESC, tag LIMIT $limit"

# --- analytics ----------------------------------------------------------------------------------

# The graph's version: a global counter and one per user, bumped by every write in the same
# transaction, so an analytic computed at a version stays right until the next write (see
# analytics/runner.py). The global counter serialises writes for the instant before commit only.
BUMP_GLOBAL_VERSION = """
MERGE (v:GraphVersion {name: 'graph'})
SET v.version = coalesce(v.version, 0) + 1
"""
# Owners of the given tracks; in id order, so that two writers lock them in the same order.
BUMP_OWNER_VERSIONS = """
MATCH (u:User)-[:CREATED]->(t:Track)
WHERE t.id IN $tracks
WITH DISTINCT u ORDER BY u.id
SET u.graph_version = coalesce(u.graph_version, 0) + 1
"""
GLOBAL_VERSION = """
OPTIONAL MATCH (v:GraphVersion {name: 'graph'})
RETURN coalesce(v.version, 0) AS version
"""
USER_VERSIONS = """
UNWIND $users AS id
OPTIONAL MATCH (u:User {id: id})
RETURN collect(coalesce(u.graph_version, 0)) AS versions
"""

# One row: the tracks in scope, per tag the positions of its tracks, and each DERIVED_FROM edge
# from a track in scope as (child position, parent id, strength); the caller drops parents out of
# scope. Positions are integers in lists: the driver decodes those far faster than records.
_SNAPSHOT_TAIL = """
WITH collect(t) AS tracks
CALL (tracks) {
  UNWIND range(0, size(tracks) - 1) AS i
  WITH tracks[i] AS t, i
  MATCH (t)-[:HAS_TAG]->(g:Tag)
  WITH g.name AS tag, collect(i) AS positions
  RETURN collect(tag) AS tags, collect(positions) AS carriers
}
CALL (tracks) {
  UNWIND range(0, size(tracks) - 1) AS i
  WITH tracks[i] AS t, i
  MATCH (t)-[e:DERIVED_FROM]->(p:Track)
  RETURN collect(i) AS children, collect(p.id) AS parents, collect(e.strength) AS strengths
}
RETURN [t IN tracks | t.id] AS ids, tags, carriers, children, parents, strengths
"""
SNAPSHOT_ALL = "MATCH (t:Track)" + _SNAPSHOT_TAIL
SNAPSHOT_OF_USERS = (
    """
UNWIND $users AS id
MATCH (:User {id: id})-[:CREATED]->(t:Track)
"""
    + _SNAPSHOT_TAIL
)
