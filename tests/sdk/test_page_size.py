"""The SDK's List helpers ask for the server's default page: the number is written once, in
cadenza_client.paging, and the server's rules take it from there."""

from __future__ import annotations

import inspect

import pytest

from cadenza_client import AsyncClient, Client
from cadenza_client.paging import DEFAULT_PAGE_SIZE
from cadenza_runtime.pagination import page_size
from cadenza_runtime.rules import limits


def test_the_server_default_is_the_sdk_s() -> None:
    assert limits.DEFAULT_PAGE_SIZE is DEFAULT_PAGE_SIZE
    assert page_size(0) == DEFAULT_PAGE_SIZE


@pytest.mark.parametrize("client", [AsyncClient, Client])
@pytest.mark.parametrize("method", ["list_jobs", "list_tracks", "lineage"])
def test_every_list_helper_defaults_to_the_server_page(client: type, method: str) -> None:
    default = inspect.signature(getattr(client, method)).parameters["page_size"].default
    assert default == DEFAULT_PAGE_SIZE
