"""Secrets in shared profiles, the example Secret, and private state files."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from cadenza_runtime.config import CadenzaConfig, weak_secret
from cadenza_runtime.private_files import open_private_log, private_dir, write_private
from cadenza_suite.stores.redis import Redis
from tests.security.edge_support import strong_secret_env, strong_secrets

EXAMPLE_SECRET = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "secrets.example.yaml"


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CADENZA_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("profile", ["stage", "prod"])
def test_shared_profiles_refuse_every_development_default(profile: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CadenzaConfig.model_validate({"profile": profile})
    message = str(caught.value)
    for name in (
        "auth.page_token_secret",
        "auth.jwt_secret",
        "postgres.owner_password",
        "postgres.service_password",
        "redis.password",
        "minio.secret_key",
        "neo4j.password",
    ):
        assert f"{name} (the development default)" in message


@pytest.mark.parametrize("profile", ["stage", "prod"])
def test_shared_profiles_start_with_strong_secrets(profile: str) -> None:
    config = CadenzaConfig.model_validate({"profile": profile, **strong_secrets()})
    assert config.redis.password_value is not None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "not set"),
        ("replace-me", "placeholder"),
        ("my-dev-password-1234", "placeholder"),
        ("Xy7#kQ2", "shorter than 16"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "too predictable"),
        ("passwordpassword", "too predictable"),
        ("abababababababababababababababab", "too predictable"),
    ],
)
def test_one_rule_for_weak_secrets(value: str, why: str) -> None:
    assert why in (weak_secret(SecretStr(value)) or "")


def test_random_secrets_pass_the_rule() -> None:
    for _ in range(50):
        env = strong_secret_env()
        assert all(weak_secret(SecretStr(value)) is None for value in env.values())


@pytest.mark.parametrize("secret", ["redis.password", "postgres.owner_password", "auth.page_token_secret"])
def test_prod_refuses_one_weak_secret_among_strong_ones(secret: str) -> None:
    settings = strong_secrets()
    section, field = secret.split(".")
    settings[section][field] = "short"
    with pytest.raises(ValidationError, match=secret.replace(".", r"\.")):
        CadenzaConfig.model_validate({"profile": "prod", **settings})


def test_prod_requires_a_redis_password() -> None:
    settings = strong_secrets()
    settings["redis"]["password"] = ""
    with pytest.raises(ValidationError, match=r"redis\.password \(not set\)"):
        CadenzaConfig.model_validate({"profile": "prod", **settings})


def test_the_example_secret_cannot_start_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = yaml.safe_load_all(EXAMPLE_SECRET.read_text())
    example = next(d for d in documents if d["metadata"]["name"] == "cadenza-secrets")["stringData"]
    assert "CADENZA_REDIS__PASSWORD" in example
    for name, value in {**strong_secret_env(), **example}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CADENZA_PROFILE", "prod")
    monkeypatch.setenv("CADENZA_MILVUS__MODE", "external")  # as deploy/k8s/configmap.yaml has it
    with pytest.raises(ValidationError) as caught:
        CadenzaConfig()
    for name in example:
        if name != "CADENZA_MINIO__ACCESS_KEY":  # an identifier, not a secret
            dotted = name.removeprefix("CADENZA_").lower().replace("__", ".")
            assert dotted in str(caught.value)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_files_are_never_readable_by_others(tmp_path: Path) -> None:
    os.umask(0o022)
    state = private_dir(tmp_path / "state" / "nested")
    assert _mode(state) == 0o700
    wide = tmp_path / "wide"
    wide.mkdir(mode=0o777)
    wide.chmod(0o755)
    assert _mode(private_dir(wide)) & 0o077 == 0o011 & _mode(wide)  # r/w gone, traversal kept
    # Watch the file while it is written: no moment with a mode wider than 0600.
    target = state / "redis.conf"
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for entry in state.iterdir():
                try:
                    seen.add(_mode(entry))
                except FileNotFoundError:
                    pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(200):
            write_private(target, f"requirepass secret-{i}\n")
    finally:
        stop.set()
        watcher.join()
    assert seen and seen <= {0o600}
    assert target.read_text() == "requirepass secret-199\n"
    log = state / "logs" / "redis.log"
    os.close(open_private_log(log))
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700


def test_redis_is_launched_with_its_password(tmp_path: Path) -> None:
    config = CadenzaConfig.model_validate(
        {"state_dir": str(tmp_path), "redis": {"password": "s3cr3t-Redis-pw"}}
    )
    redis = Redis(config)
    redis.prepare()
    text = redis.conf_file.read_text()
    assert 'requirepass "s3cr3t-Redis-pw"' in text
    assert _mode(redis.conf_file) == 0o600 and _mode(redis.data_dir) == 0o700
