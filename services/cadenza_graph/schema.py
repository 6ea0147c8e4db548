"""Constraints the graph relies on, created at start and idempotent across replicas."""

from __future__ import annotations

from neo4j import AsyncDriver
from neo4j.exceptions import ClientError

from cadenza_graph import queries

# Two replicas starting at once may race on the same IF NOT EXISTS; the loser sees this code.
_ALREADY_THERE = "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists"


async def ensure_schema(driver: AsyncDriver, database: str) -> None:
    for statement in queries.SCHEMA:
        try:
            await driver.execute_query(statement, database_=database)
        except ClientError as exc:
            if exc.code != _ALREADY_THERE:
                raise RuntimeError(
                    f"cannot create the graph schema ({statement!r}): {exc.message}; an index or "
                    "constraint of another shape may already cover that property"
                ) from exc
    # Constraints are backed by indexes that populate in the background; queries need them online.
    await driver.execute_query(queries.AWAIT_INDEXES, database_=database)
