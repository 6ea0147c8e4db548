"""Smoke check for a running launcher: python deploy/neo4j/smoke.py PORT [write|read]

The password comes from CADENZA_NEO4J_PASSWORD, as for run.sh: a command line is world-readable.

`write` (default) creates a constraint + small graph and checks Cypher (shortestPath,
variable-length paths); `read` only verifies the graph written earlier is still there.
"""

import os
import sys

from neo4j import GraphDatabase


def main() -> None:
    port, password = int(sys.argv[1]), os.environ["CADENZA_NEO4J_PASSWORD"]
    mode = sys.argv[2] if len(sys.argv) > 2 else "write"
    uri = f"bolt://127.0.0.1:{port}"
    with GraphDatabase.driver(uri, auth=("neo4j", password)) as driver:
        driver.verify_connectivity()
        if mode == "write":
            driver.execute_query(
                "CREATE CONSTRAINT smoke_n_id IF NOT EXISTS FOR (n:SmokeN) REQUIRE n.id IS UNIQUE"
            )
            driver.execute_query("UNWIND range(1, 6) AS i MERGE (:SmokeN {id: i})")
            driver.execute_query(
                "UNWIND [[1,2],[2,3],[3,4],[4,5],[1,6],[6,5]] AS e "
                "MATCH (a:SmokeN {id: e[0]}), (b:SmokeN {id: e[1]}) MERGE (a)-[:R]->(b)"
            )
            try:
                driver.execute_query("CREATE (:SmokeN {id: 1})")
                raise AssertionError("uniqueness constraint not enforced")
            except Exception as e:  # neo4j.exceptions.ConstraintError
                assert "already exists" in str(e), e
        recs, _, _ = driver.execute_query(
            "MATCH p = shortestPath((a:SmokeN {id: 1})-[:R*]->(b:SmokeN {id: 5})) "
            "RETURN [n IN nodes(p) | n.id] AS ids"
        )
        assert recs[0]["ids"] == [1, 6, 5], recs
        recs, _, _ = driver.execute_query(
            "MATCH p = (a:SmokeN {id: 1})-[:R*1..5]->(b:SmokeN) "
            "RETURN b.id AS id, length(p) AS len ORDER BY len, id"
        )
        got = [(r["id"], r["len"]) for r in recs]
        assert got == [(2, 1), (6, 1), (3, 2), (5, 2), (4, 3), (5, 4)], got
        recs, _, _ = driver.execute_query(
            "MATCH (n:SmokeN) WITH count(n) AS nodes "
            "MATCH (:SmokeN)-[r:R]->(:SmokeN) RETURN nodes, count(r) AS rels"
        )
        assert (recs[0]["nodes"], recs[0]["rels"]) == (6, 6), recs
        recs, _, _ = driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")
        assert "smoke_n_id" in recs[0]["names"], recs
        info = driver.get_server_info()
        print(f"smoke {mode} OK: {info.agent} protocol {info.protocol_version} at {uri}")


if __name__ == "__main__":
    main()
