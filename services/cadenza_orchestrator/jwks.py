"""An external issuer's signing keys (a JWKS document from a file or a URL), cached by `kid`.

Keys are reloaded when the cache is older than `cache_seconds`, or when a token names a `kid`
the cache does not hold (the issuer rotated its keys) — but not more often than every
`min_refresh_seconds`, so that tokens with made-up kids cannot turn every request into a fetch.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

_log = logging.getLogger(__name__)
FETCH_TIMEOUT_SECONDS = 5.0


class JwksUnavailable(Exception):
    """The key set could not be read (file missing, URL unreachable, not a JWKS document)."""


class JwksKeys:
    def __init__(
        self,
        load: Callable[[], dict[str, Any]],
        *,
        source: str,
        cache_seconds: float,
        min_refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._load = load
        self.source = source
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, cache_seconds: float, min_refresh_seconds: float) -> JwksKeys:
        def load() -> dict[str, Any]:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise JwksUnavailable(f"cannot read the JWKS file {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise JwksUnavailable(f"{path} is not a JWKS document (a JSON object with `keys`)")
            return data

        return cls(
            load, source=str(path), cache_seconds=cache_seconds, min_refresh_seconds=min_refresh_seconds
        )

    @classmethod
    def from_url(cls, url: str, cache_seconds: float, min_refresh_seconds: float) -> JwksKeys:
        # PyJWKClient only as the fetcher: caching and the refresh rule are ours.
        client = PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=FETCH_TIMEOUT_SECONDS)

        def load() -> dict[str, Any]:
            try:
                data = client.fetch_data()
            except jwt.PyJWKClientError as exc:
                raise JwksUnavailable(f"cannot fetch the JWKS from {url}: {exc}") from exc
            if not isinstance(data, dict):
                raise JwksUnavailable(f"{url} did not return a JWKS document")
            return data

        return cls(load, source=url, cache_seconds=cache_seconds, min_refresh_seconds=min_refresh_seconds)

    def key(self, kid: str | None) -> PyJWK | None:
        """The signing key with this kid (the only key when the token names none and there is one)."""
        with self._lock:
            now = self._clock()
            stale = self._loaded_at is None or now - self._loaded_at >= self._cache_seconds
            if stale:
                self._reload(now)
            found = self._pick(kid)
            if found is None and not stale and now - (self._loaded_at or now) >= self._min_refresh:
                self._reload(now)  # an unknown kid: the issuer may have rotated its keys
                found = self._pick(kid)
            return found

    def _pick(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _reload(self, now: float) -> None:
        try:
            data = self._load()
            keys: dict[str, PyJWK] = {}
            for entry in data.get("keys", []):
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                try:
                    key = PyJWK(entry)
                except jwt.PyJWKError as exc:
                    _log.warning("skipping an unusable key in %s: %s", self.source, exc)
                    continue
                keys[str(entry.get("kid", ""))] = key
        except JwksUnavailable as exc:
            # Keep serving with the keys we have: an issuer blip must not lock every user out.
            _log.warning("%s; keeping %d cached keys", exc, len(self._keys))
            self._loaded_at = now
            if not self._keys:
                raise
            return
        self._keys = keys
        self._loaded_at = now
