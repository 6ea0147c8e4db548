"""Saving a track's audio from its presigned URL: streamed, SHA-256 checked, never a partial file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from cadenza_client.errors import ChecksumMismatch, DownloadFailed

CHUNK_BYTES = 1 << 20


class UrlExpired(Exception):
    """The presigned URL was refused (403): a fresh one may work."""


def fetch_verified(resource: str, url: str, expected_sha256: str, path: Path, timeout: float) -> Path:
    """Writes the body of `url` to `path` if its SHA-256 is `expected_sha256`.

    The bytes go to a temporary file next to `path`, renamed over it only once verified, so `path`
    is either the whole verified file or untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False
    )
    temporary = Path(handle.name)
    try:
        digest = hashlib.sha256()
        with handle:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    while chunk := response.read(CHUNK_BYTES):
                        digest.update(chunk)
                        handle.write(chunk)
            except urllib.error.HTTPError as error:
                if error.code == 403:
                    raise UrlExpired(str(error)) from error
                raise DownloadFailed(resource, f"downloading {resource} failed: HTTP {error.code}") from error
            except (urllib.error.URLError, OSError) as error:
                raise DownloadFailed(resource, f"downloading {resource} failed: {error}") from error
            handle.flush()
            os.fsync(handle.fileno())
        actual = digest.hexdigest()
        if actual != expected_sha256.lower():  # a track without a checksum is not trusted either
            raise ChecksumMismatch(resource, expected_sha256, actual)
        os.replace(temporary, path)
        return path
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
