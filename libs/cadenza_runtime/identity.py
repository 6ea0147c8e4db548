"""Service identity inside the suite: who is calling, proven by a short-lived signed token.

Each identity (the six services and `operator`, the humans and tools) has its own Ed25519 key pair.
A caller signs a JWT (EdDSA) naming itself (`sub`), the service it calls (`aud`) and a short
lifetime; every verifier holds the trust bundle, a JWKS file of the identities' public keys, whose
`kid`s are "<identity>:<thumbprint>" so that a key can only speak for its own identity and a bundle
can hold an old and a new key of one identity during a rotation.

Clients mint one token per audience and reuse it until a third of its life is left, so the per-call
cost is one header; verifiers cache the tokens they have checked, so theirs is a dict lookup.

In the dev profile the keys live under `<state dir>/identity/` (directory 0700, private keys 0600)
and are generated on first use, atomically (a whole directory renamed into place), so concurrent
starters agree on one set. stage and prod name `identity.key_file` and `identity.trust_bundle`
explicitly and refuse to start without them.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cadenza_runtime.config import CadenzaConfig, Profile
from cadenza_runtime.errors import PermissionDenied, Unauthenticated
from cadenza_runtime.rules import names

OPERATOR = "operator"
SERVICE_IDENTITIES = ("orchestrator", "metadata", "inference", "vector", "graph", "blob")
IDENTITIES = (*SERVICE_IDENTITIES, OPERATOR)
# Identities whose calls may name the end user they act for (x-cadenza-acting-user).
ACTS_FOR_USERS = frozenset({"orchestrator"})

ACTING_USER_HEADER = "x-cadenza-acting-user"
AUTHORIZATION_HEADER = "authorization"
_ALGORITHM = "EdDSA"
_ISSUER = "cadenza-internal"


class IdentityError(RuntimeError):
    """The process cannot prove or check identities (missing or unreadable keys)."""


def as_identity(config: CadenzaConfig, identity: str) -> CadenzaConfig:
    """`config` for a process (or a part of one) that calls as `identity`."""
    if config.identity.name == identity:
        return config
    return config.model_copy(update={"identity": config.identity.model_copy(update={"name": identity})})


def principal_name(identity: str) -> str:
    """Resource name of an identity in audit rows: "services/metadata", "operators/operator"."""
    return f"operators/{identity}" if identity == OPERATOR else f"services/{identity}"


# Key material -------------------------------------------------------------------------------------


def identity_dir(config: CadenzaConfig) -> Path:
    return config.state_dir / "identity"


def key_file(config: CadenzaConfig, identity: str) -> Path:
    """The private key this process signs with as `identity`."""
    if config.identity.key_file is not None:
        return config.identity.key_file
    return identity_dir(config) / f"{identity}.key"


def trust_bundle_file(config: CadenzaConfig) -> Path:
    if config.identity.trust_bundle is not None:
        return config.identity.trust_bundle
    return identity_dir(config) / "trust.jwks"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(identity: str, public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    thumbprint = _b64(hashlib.sha256(raw).digest())[:16]
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": f"{identity}:{thumbprint}", "use": "sig"}


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created 0600 from the start: no moment where another user could read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _write_bundle(path: Path, keys: list[dict[str, str]]) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps({"keys": keys}, indent=2) + "\n")
    os.chmod(staging, 0o644)  # public keys only
    os.replace(staging, path)


def ensure_dev_identities(config: CadenzaConfig) -> Path:
    """Creates every identity's key pair and the trust bundle under the state directory unless they
    exist (idempotent and safe to race: the set is built aside and renamed into place)."""
    target = identity_dir(config)
    if (target / "trust.jwks").is_file():
        return target
    config.state_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".identity-", dir=config.state_dir))  # mode 0700
    try:
        keys = []
        for identity in IDENTITIES:
            private = Ed25519PrivateKey.generate()
            _write_private(staging / f"{identity}.key", private)
            keys.append(public_jwk(identity, private.public_key()))
        _write_bundle(staging / "trust.jwks", keys)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / "trust.jwks").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def rotate_key(config: CadenzaConfig, identity: str) -> str:
    """Gives `identity` a new key pair: the new public key joins the bundle next to the old one (so
    tokens signed with either verify), then the private key file is replaced. Returns the new kid."""
    if identity not in IDENTITIES:
        raise ValueError(f"unknown identity {identity!r}; one of {', '.join(IDENTITIES)}")
    bundle = trust_bundle_file(config)
    keys: list[dict[str, str]] = json.loads(bundle.read_text())["keys"]
    private = Ed25519PrivateKey.generate()
    jwk = public_jwk(identity, private.public_key())
    _write_bundle(bundle, [*keys, jwk])
    path = key_file(config, identity)
    fresh = path.with_name(f".{path.name}.new")
    fresh.unlink(missing_ok=True)
    _write_private(fresh, private)
    os.replace(fresh, path)
    return jwk["kid"]


def retire_keys(config: CadenzaConfig, identity: str) -> list[str]:
    """Drops every key of `identity` from the bundle except the one its key file holds now."""
    bundle = trust_bundle_file(config)
    keys: list[dict[str, str]] = json.loads(bundle.read_text())["keys"]
    current = public_jwk(identity, load_private_key(key_file(config, identity)).public_key())["kid"]
    kept = [k for k in keys if not k["kid"].startswith(f"{identity}:") or k["kid"] == current]
    _write_bundle(bundle, kept)
    return [k["kid"] for k in keys if k not in kept]


def _version(path: Path) -> tuple[int, int]:
    """Changes whenever the file is rewritten (replaced files get a new inode)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_ino)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise IdentityError(f"cannot read the identity key {path}: {exc.strerror}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"{path} is not an Ed25519 private key")
    return key


def prepare_identities(config: CadenzaConfig) -> None:
    """dev: makes sure the generated keys exist; stage/prod: IdentityError unless configured."""
    explicit = config.identity.key_file is not None or config.identity.trust_bundle is not None
    if config.profile is Profile.DEV and not explicit:
        ensure_dev_identities(config)
        return
    missing = [
        name
        for name, value in (
            ("identity.key_file", config.identity.key_file),
            ("identity.trust_bundle", config.identity.trust_bundle),
        )
        if value is None
    ]
    if missing:
        raise IdentityError(
            f"profile {config.profile.value} needs {' and '.join(missing)} "
            "(CADENZA_IDENTITY__KEY_FILE, CADENZA_IDENTITY__TRUST_BUNDLE): internal calls are "
            "authenticated in every profile, and only dev generates its own keys"
        )


# Signing ------------------------------------------------------------------------------------------


class TokenSigner:
    """Mints and caches this process's tokens, one per audience (thread-safe)."""

    def __init__(self, identity: str, path: Path, ttl: float, refresh_fraction: float = 1 / 3):
        self.identity = identity
        self._path = path
        self._ttl = ttl
        self._refresh = ttl * refresh_fraction
        self._key: Ed25519PrivateKey | None = None
        self._kid = ""
        self._version: tuple[int, int] = (0, 0)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _current_key(self) -> tuple[Ed25519PrivateKey, str]:
        # Re-read after a rotation replaced the file (checked only when minting).
        version = _version(self._path)
        if self._key is None or version != self._version:
            self._key = load_private_key(self._path)
            self._kid = public_jwk(self.identity, self._key.public_key())["kid"]
            self._version = version
        return self._key, self._kid

    def mint(self, audience: str | list[str], ttl: float | None = None) -> str:
        key, kid = self._current_key()
        now = int(time.time())
        claims = {
            "iss": _ISSUER,
            "sub": self.identity,
            "aud": audience,
            "iat": now,
            "exp": now + int(ttl or self._ttl),
        }
        return jwt.encode(claims, key, algorithm=_ALGORITHM, headers={"kid": kid})

    def token(self, audience: str) -> str:
        """A cached token for `audience`, renewed once less than a third of its life is left."""
        cached = self._tokens.get(audience)
        now = time.time()
        if cached is not None and cached[1] - now > self._refresh:
            return cached[0]
        with self._lock:
            token = self.mint(audience)
            self._tokens[audience] = (token, now + self._ttl)
            return token


_signers: dict[tuple[str, Path, float], TokenSigner] = {}
_signers_lock = threading.Lock()


def signer_for(config: CadenzaConfig) -> TokenSigner | None:
    """This process's signer, or None when the configuration names no identity (anonymous)."""
    identity = config.identity.name
    if not identity:
        return None
    prepare_identities(config)
    path = key_file(config, identity)
    key = (identity, path, config.identity.token_ttl_seconds)
    with _signers_lock:
        signer = _signers.get(key)
        if signer is None:
            signer = _signers[key] = TokenSigner(identity, path, config.identity.token_ttl_seconds)
        return signer


# Verifying ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The verified caller of an internal call and the end user it acts for, if any."""

    identity: str
    acting_user: str = ""  # "users/{id}", only from identities in ACTS_FOR_USERS

    @property
    def principal(self) -> str:
        return principal_name(self.identity)

    @property
    def actor(self) -> str:
        """What audit rows record: "users/alice via services/orchestrator", or the caller alone."""
        return f"{self.acting_user} via {self.principal}" if self.acting_user else self.principal

    @property
    def is_operator(self) -> bool:
        return self.identity == OPERATOR


_MAX_CACHED = 4096


class TokenVerifier:
    """Checks internal tokens addressed to one audience against the trust bundle."""

    def __init__(self, audiences: list[str], bundle: Path, leeway: float, max_lifetime: float):
        self.audiences = audiences
        self.audience = audiences[0]
        self._bundle_path = bundle
        self._leeway = leeway
        self._max_lifetime = max_lifetime
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._bundle_version = (-1, -1)
        self._checked_at = time.monotonic()
        self._verified: dict[str, tuple[str, float]] = {}  # token -> (identity, exp)
        self._load_bundle()

    def _load_bundle(self) -> None:
        try:
            version = _version(self._bundle_path)
            if version == self._bundle_version:
                return
            keys = json.loads(self._bundle_path.read_text())["keys"]
        except (OSError, ValueError, KeyError) as exc:
            raise IdentityError(f"cannot read the trust bundle {self._bundle_path}: {exc}") from exc
        loaded: dict[str, Ed25519PublicKey] = {}
        for entry in keys:
            if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519" and ":" in entry.get("kid", ""):
                raw = base64.urlsafe_b64decode(entry["x"] + "=" * (-len(entry["x"]) % 4))
                loaded[entry["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
        self._keys, self._bundle_version = loaded, version
        self._verified.clear()  # a retired key's tokens must stop verifying

    def _refresh(self) -> None:
        # A rotation adds keys and a retirement removes them: look at the file once a second.
        now = time.monotonic()
        if now - self._checked_at > 1.0:
            self._checked_at = now
            self._load_bundle()

    def verify(self, token: str) -> str:
        """The identity that signed `token` for this audience, or Unauthenticated saying why."""
        self._refresh()
        cached = self._verified.get(token)
        if cached is not None and cached[1] + self._leeway > time.time():
            return cached[0]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise _invalid(f"it is not a JWT ({exc})") from exc
        kid = header.get("kid")
        if header.get("alg") != _ALGORITHM or not isinstance(kid, str):
            raise _invalid("it is not an internal service token (EdDSA with a kid)")
        key = self._keys.get(kid)
        if key is None:
            raise _invalid(f"its key {kid!r} is not in this service's trust bundle")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                audience=self.audiences,
                issuer=_ISSUER,
                leeway=self._leeway,
                options={"require": ["sub", "aud", "iat", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated(
                "the service token has expired; mint a new one (`cadenza token --operator`)",
                reason="SERVICE_TOKEN_EXPIRED",
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise _invalid(f"it is addressed to another service, not {self.audience!r}") from exc
        except jwt.InvalidTokenError as exc:
            raise _invalid(str(exc)) from exc
        identity = claims["sub"]
        if not isinstance(identity, str) or kid.split(":", 1)[0] != identity:
            raise _invalid(f"its key {kid!r} cannot speak for {identity!r}")
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise _invalid(f"its lifetime exceeds the {self._max_lifetime:.0f}s this service accepts")
        if len(self._verified) >= _MAX_CACHED:
            self._verified.clear()
        self._verified[token] = (identity, float(claims["exp"]))
        return identity


def _invalid(why: str) -> Unauthenticated:
    return Unauthenticated(
        f"the service token is not valid: {why}; internal calls need "
        "'authorization: Bearer <service token>' (operators: `cadenza token --operator`)",
        reason="SERVICE_TOKEN_INVALID",
    )


def verifier_for(config: CadenzaConfig, audiences: list[str]) -> TokenVerifier:
    """A verifier of tokens addressed to any of `audiences` (a server's name and its packages')."""
    prepare_identities(config)
    return TokenVerifier(
        audiences,
        trust_bundle_file(config),
        config.identity.leeway_seconds,
        config.identity.max_token_lifetime_seconds,
    )


def bearer_of(metadata: Mapping[str, str | bytes]) -> str:
    value = metadata.get(AUTHORIZATION_HEADER, "")
    header = value.decode() if isinstance(value, bytes) else value
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def acting_user_of(metadata: Mapping[str, str | bytes], identity: str) -> str:
    """The end user named in the call's metadata; only identities allowed to act for users may."""
    value = metadata.get(ACTING_USER_HEADER, "")
    user = value.decode(errors="replace") if isinstance(value, bytes) else value
    if not user:
        return ""
    if identity not in ACTS_FOR_USERS:
        raise PermissionDenied(
            f"{principal_name(identity)} may not act for end users ({ACTING_USER_HEADER} metadata)",
            metadata={"caller": principal_name(identity)},
        )
    # The suite's one user rule: every user who can sign in can be acted for.
    return names.check_user_name(user, ACTING_USER_HEADER)


# The verified caller of the call being served, and the end user this process acts for now.
_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("cadenza_caller", default=None)
_acting_user: contextvars.ContextVar[str] = contextvars.ContextVar("cadenza_acting_user", default="")


def current_caller() -> Caller | None:
    return _caller.get()


def set_current_caller(caller: Caller | None) -> None:
    _caller.set(caller)


def acting_user() -> str:
    return _acting_user.get()


def act_for(user: str) -> None:
    """Every internal call made from here on in this task names `user` ("users/{id}") as the end
    user it is made for (the orchestrator, once it has verified that user's token)."""
    _acting_user.set(user)


@contextlib.contextmanager
def acting_for(user: str) -> Iterator[None]:
    token = _acting_user.set(user)
    try:
        yield
    finally:
        _acting_user.reset(token)
