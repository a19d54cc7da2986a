"""The evidence store: uploads encrypted in chunks into one directory, under random names.

A stored file's name is 32 random hex digits (`secrets.token_hex(16)`); nothing a user supplies
ever reaches the filesystem. The name is also the file id bound into every chunk's associated
data, so a file renamed or copied over another fails to decrypt. Files are written to a
temporary name in the same directory, fsynced and renamed into place, so a crash or a full disk
never leaves a half-written file under a real name. The store has no delete: evidence is kept.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.crypto import runtime
from app.crypto.errors import FileTooLargeError, IntegrityError
from app.crypto.files import encrypt_stream, iter_decrypted, read_key_id, verify_file
from app.crypto.keyring import PURPOSE_EVIDENCE

_NAME = re.compile(r"[0-9a-f]{32}")
_FULL_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class EvidenceError(Exception):
    """Base class for evidence-store failures; the message is safe to show to staff."""


class EvidenceTooLarge(EvidenceError):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        super().__init__(f"The file is larger than the evidence upload limit of {max_size} bytes; "
                         "nothing was stored.")


class EvidenceStorageFull(EvidenceError):
    def __init__(self) -> None:
        super().__init__("The evidence store is out of disk space; nothing was stored. Ask the "
                         "administrator to free or add space, then upload the file again.")


class EvidenceWriteFailed(EvidenceError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"The evidence file could not be written ({reason}); nothing was "
                         "stored. Try again or tell the administrator.")


class EvidenceMissing(EvidenceError):
    def __init__(self, storage_name: str) -> None:
        super().__init__(f"Evidence file {storage_name} is missing from the evidence store.")


class EvidenceTampered(EvidenceError):
    def __init__(self, storage_name: str, detail: str) -> None:
        super().__init__(f"Evidence file {storage_name} failed its integrity check and was not "
                         f"served: {detail} Restore it from a backup and report the incident.")


@dataclass(frozen=True)
class StoredFile:
    """What intake records about a stored file (the storage name is not the uploaded name)."""

    storage_name: str
    sha256: str  # of the original plaintext, recorded at intake and checked on every read
    size: int
    key_id: int


class EvidenceStore:
    """Encrypted evidence files in ``directory`` (created mode 0700)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is reduced by the umask; be exact

    def _path(self, storage_name: str) -> Path:
        if not _NAME.fullmatch(storage_name):
            raise EvidenceMissing(storage_name[:40] or "(empty name)")
        return self.directory / storage_name

    def save(self, stream: BinaryIO, *, max_size: int) -> StoredFile:
        """Encrypt ``stream`` under the active evidence key into a new file; return its record.

        The key id may be created in the caller's transaction on first use: commit it with the
        record of this file.
        """
        self._ensure_directory()
        ring = runtime.keyring()
        key_id = ring.active_key_id(PURPOSE_EVIDENCE)
        key = ring.data_key(key_id)
        storage_name = secrets.token_hex(16)
        final = self.directory / storage_name
        temp = self.directory / f".{storage_name}.partial"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(temp, flags, 0o600)
            with os.fdopen(fd, "wb") as handle:
                sha256, size = encrypt_stream(stream, handle, key=key, key_id=key_id,
                                              file_id=storage_name, max_size=max_size)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
            self._fsync_directory()
        except FileTooLargeError:
            temp.unlink(missing_ok=True)
            raise EvidenceTooLarge(max_size) from None
        except OSError as error:
            temp.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            if error.errno in _FULL_DISK:
                raise EvidenceStorageFull() from None
            raise EvidenceWriteFailed(error.strerror or type(error).__name__) from None
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return StoredFile(storage_name, sha256, size, key_id)

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open(self, storage_name: str) -> BinaryIO:
        path = self._path(storage_name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise EvidenceMissing(storage_name) from None
        return os.fdopen(fd, "rb")

    def _key_for(self, handle: BinaryIO, storage_name: str) -> bytes:
        try:
            key_id = read_key_id(handle)
        except IntegrityError as error:
            raise EvidenceTampered(storage_name, str(error)) from None
        return runtime.keyring().data_key(key_id)

    def _verify_open(self, handle: BinaryIO, storage_name: str, expected_sha256: str) -> bytes:
        key = self._key_for(handle, storage_name)
        try:
            verify_file(handle, key=key, file_id=storage_name, expected_sha256=expected_sha256)
        except IntegrityError as error:
            raise EvidenceTampered(storage_name, str(error)) from None
        return key

    def discard_uncommitted(self, storage_name: str) -> None:
        """Remove a file whose database record was never committed (an orphan, not evidence).

        The only deletion the store offers: committed evidence is never removed by the app.
        """
        self._path(storage_name).unlink(missing_ok=True)

    def verify(self, storage_name: str, expected_sha256: str) -> None:
        """Decrypt the whole file to nowhere; raise EvidenceTampered unless it is the original."""
        with self._open(storage_name) as handle:
            self._verify_open(handle, storage_name, expected_sha256)

    def open_verified(self, storage_name: str, expected_sha256: str) -> Iterator[bytes]:
        """Verify the whole file now, then return an iterator of its plaintext chunks.

        Verification happens before this returns, so a damaged or swapped file is refused
        before a response starts. The same open file is then streamed, and the stream checks
        each chunk and the hash again (the file could change on disk in between).
        """
        handle = self._open(storage_name)
        try:
            key = self._verify_open(handle, storage_name, expected_sha256)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        return self._stream(handle, key, storage_name, expected_sha256)

    @staticmethod
    def _stream(handle: BinaryIO, key: bytes, storage_name: str,
                expected_sha256: str) -> Iterator[bytes]:
        with handle:
            try:
                yield from iter_decrypted(handle, key=key, file_id=storage_name,
                                          expected_sha256=expected_sha256)
            except IntegrityError as error:
                raise EvidenceTampered(storage_name, str(error)) from None
