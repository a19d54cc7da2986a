"""Files only this service account may read: key files and secrets, created 0600 and checked.

One place for the rules every secret on disk follows: never follow a symlink, refuse a file
that group or others can read, write to a fresh file and fsync, and create atomically so two
processes starting at once end up with the same secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class PrivateFileError(OSError):
    """The file cannot be opened, is not a regular file, or others can read it.

    `reason` is one of "unopenable", "not_regular", "loose_permissions", "not_text".
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def read_private_text(path: Path, *, what: str, limit: int = 16384) -> str:
    """Read a small secret file, refusing links, non-regular files and loose permissions."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise PrivateFileError(f"{what} {path} cannot be opened: {error}", "unopenable") from None
    with os.fdopen(fd, "r", encoding="ascii", errors="strict") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PrivateFileError(f"{what} {path} is not a regular file.", "not_regular")
        if info.st_mode & 0o077:
            raise PrivateFileError(
                f"{what} {path} has mode {stat.S_IMODE(info.st_mode):04o}, readable by group or "
                f"others. Run 'chmod 600 {path}' and consider who may have copied it.",
                "loose_permissions")
        try:
            return handle.read(limit)
        except UnicodeDecodeError:
            raise PrivateFileError(f"{what} {path} is not a text file.", "not_text") from None


def write_new_private(path: Path, data: bytes) -> None:
    """Create `path` (mode 0600) with `data`; refuse to overwrite or to follow a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits, but be explicit
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def write_temp_beside(path: Path, data: bytes) -> Path:
    """Write `data` to a fresh 0600 file next to `path` (for an atomic link or rename)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    write_new_private(tmp, data)
    return tmp


def create_private_once(path: Path, data: bytes) -> bool:
    """Create `path` with `data` unless it exists; False when another process created it first."""
    tmp = write_temp_beside(path, data)
    try:
        os.link(tmp, path)  # fails if the file already exists: no overwrite, no race
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (mode 0600), replacing it atomically: never half a file."""
    tmp = write_temp_beside(path, data)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
