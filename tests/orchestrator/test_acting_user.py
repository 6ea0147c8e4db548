"""The end user travels with the orchestrator's calls and lands in audit rows: ListAuditEvents says
which user did what through which service, and what the orchestrator did on its own."""

from __future__ import annotations

from cadenza.common.v1 import types_pb2
from cadenza.metadata.v1 import metadata_pb2
from tests.helpers.callers import Caller
from tests.orchestrator.flows import submit, watch
from tests.orchestrator.invariant import Direct


async def test_audit_rows_name_the_user_and_the_service_they_acted_through(
    alice: Caller, bob: Caller, direct: Direct
) -> None:
    job = await submit(alice)
    assert (await watch(alice, job.name)).final.state == types_pb2.JOB_STATE_SUCCEEDED
    rows = (
        await direct.metadata.ListAuditEvents(
            metadata_pb2.ListAuditEventsRequest(resource=job.name, page_size=100)
        )
    ).audit_events
    via = f"{alice.user} via services/orchestrator"
    actions = [(row.action, row.actor) for row in rows]
    # Admission ran for alice; claiming a queued job is the worker's own act (it does not know whose
    # job it gets); running it, the worker acts for the job's owner.
    assert ("CreateJob", via) in actions, actions
    assert ("ClaimJob", "services/orchestrator") in actions, actions
    transitions = [actor for action, actor in actions if action == "TransitionJob"]
    assert transitions and set(transitions) == {via}, actions
    assert {actor for _, actor in actions} <= {via, "services/orchestrator"}, actions
    # Filtering by that actor finds her writes and nobody else's.
    mine = await direct.metadata.ListAuditEvents(
        metadata_pb2.ListAuditEventsRequest(actor=via, page_size=100)
    )
    assert job.name in {row.resource for row in mine.audit_events}
    other = await submit(bob)
    bob_rows = await direct.metadata.ListAuditEvents(
        metadata_pb2.ListAuditEventsRequest(resource=other.name, page_size=10)
    )
    assert [r.actor for r in bob_rows.audit_events if r.action == "CreateJob"] == [
        f"{bob.user} via services/orchestrator"
    ]
