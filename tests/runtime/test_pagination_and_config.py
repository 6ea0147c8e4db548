"""Pure logic of the runtime: page tokens, page sizes, configuration sources, retry policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza_runtime.config import CadenzaConfig, Profile
from cadenza_runtime.errors import InvalidArgument
from cadenza_runtime.pagination import PageTokenCodec, page_size
from tests.security.edge_support import strong_secret_env


def test_page_token_round_trip_and_tamper_evidence() -> None:
    codec = PageTokenCodec(b"secret")
    token = codec.encode("ListJobs:user=1", {"created_at": "2026-01-01", "id": "abc"})
    assert codec.decode("ListJobs:user=1", token) == {"created_at": "2026-01-01", "id": "abc"}
    assert codec.decode("ListJobs:user=1", "") is None
    with pytest.raises(InvalidArgument, match="same filters"):
        codec.decode("ListJobs:user=2", token)
    body, mac = token.split(".")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(InvalidArgument):
        codec.decode("ListJobs:user=1", f"{forged_body}.{mac}")
    with pytest.raises(InvalidArgument, match="malformed"):
        codec.decode("ListJobs:user=1", "no-dot-here")
    with pytest.raises(InvalidArgument):
        PageTokenCodec(b"other").decode("ListJobs:user=1", token)


def test_page_size_bounds() -> None:
    assert page_size(0) == 50
    assert page_size(10) == 10
    assert page_size(10**6) == 1000
    with pytest.raises(InvalidArgument):
        page_size(-1)


def test_environment_overrides_file_and_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = tmp_path / "cadenza.yaml"
    config_file.write_text("profile: stage\npostgres:\n  port: 7000\n  database: fromfile\n")
    monkeypatch.setenv("CADENZA_CONFIG", str(config_file))
    monkeypatch.setenv("CADENZA_POSTGRES__PORT", "7001")
    monkeypatch.delenv("CADENZA_PROFILE", raising=False)
    monkeypatch.delenv("CADENZA_POSTGRES__DATABASE", raising=False)  # the tests' stack sets one
    for name, value in strong_secret_env().items():  # stage refuses the development secrets
        monkeypatch.setenv(name, value)
    config = CadenzaConfig()
    assert config.profile is Profile.STAGE
    assert config.postgres.port == 7001  # environment beats the file
    assert config.postgres.database == "fromfile"
    assert config.telemetry.exporter == "console"  # stage profile default
    assert config.postgres.dsn("owner").startswith("postgresql://cadenza_owner:")


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CADENZA_CONFIG", "/nonexistent/cadenza.yaml")
    with pytest.raises(FileNotFoundError, match="CADENZA_CONFIG"):
        CadenzaConfig()


def test_prod_profile_refuses_development_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CADENZA_CONFIG", raising=False)
    monkeypatch.setenv("CADENZA_PROFILE", "prod")
    with pytest.raises(ValueError, match="development secrets"):
        CadenzaConfig()
