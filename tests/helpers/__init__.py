"""Helpers shared by the test packages (plain functions and classes; fixtures live in conftest.py).

stores.py    STORES, stores_up(...), run_cadenza(...): the project's launcher on the test stack
serving.py   serve(name, factory, config): one service in this process on a free port
identity.py  operator_token, operator_metadata, plain_channel: calling as the operator
scratch.py   scratch databases, buckets and Milvus collections made and removed by a test
errors.py    expect_error / raises_rpc_error: a failed call's status, message and ErrorInfo
callers.py   Caller, new_caller: an end user with a token on an orchestrator stub
deployment.py  the `--suite HOST[:PORT_BASE]` target: an existing deployment to test against
"""
