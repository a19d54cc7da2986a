"""The evidence store: encrypted files under random names, refused when altered, and never a
partial file left behind by an oversize upload or a full disk."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
from pathlib import Path

import pytest

from app.crypto.keyring import PURPOSE_EVIDENCE
from app.evidence import store as store_module
from app.evidence.store import (
    EvidenceMissing,
    EvidenceStorageFull,
    EvidenceStore,
    EvidenceTampered,
    EvidenceTooLarge,
)

CANARY = "CANARY-evidence-7f3a9c-Quetta-witness-statement"
MB = 1024 * 1024


@pytest.fixture
def store(app, tmp_path: Path):
    with app.app_context():
        yield EvidenceStore(tmp_path / "evidence")


def _files(store: EvidenceStore) -> list[str]:
    return sorted(os.listdir(store.directory)) if store.directory.exists() else []


def _three_megabytes() -> bytes:
    text = (CANARY + " testimony line\n").encode()
    return (text * (3 * MB // len(text) + 1))[: 3 * MB - 5] + os.urandom(5)


def test_a_3_mb_file_round_trips(store):
    data = _three_megabytes()
    stored = store.save(io.BytesIO(data), max_size=10 * MB)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{32}", stored.storage_name)
    from app.crypto import runtime

    assert stored.key_id == runtime.keyring().active_key_id(PURPOSE_EVIDENCE)
    assert b"".join(store.open_verified(stored.storage_name, stored.sha256)) == data
    store.verify(stored.storage_name, stored.sha256)
    assert _files(store) == [stored.storage_name]


def test_store_directory_and_files_are_private(store):
    stored = store.save(io.BytesIO(b"x" * 100), max_size=MB)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((store.directory / stored.storage_name).stat().st_mode) == 0o600


def test_the_store_holds_no_plaintext(store):
    data = _three_megabytes()
    store.save(io.BytesIO(data), max_size=10 * MB)
    store.save(io.BytesIO(CANARY.encode("utf-8")), max_size=MB)
    for name in _files(store):
        raw = (store.directory / name).read_bytes()
        assert CANARY.encode() not in raw
        assert b"testimony line" not in raw


def test_a_tampered_file_is_refused_before_any_byte_is_sent(store):
    data = _three_megabytes()
    stored = store.save(io.BytesIO(data), max_size=10 * MB)
    path = store.directory / stored.storage_name
    raw = bytearray(path.read_bytes())
    raw[2 * MB + 100] ^= 0x40  # inside the third chunk: the first two would verify
    path.write_bytes(bytes(raw))
    with pytest.raises(EvidenceTampered, match="failed its integrity check") as refused:
        store.open_verified(stored.storage_name, stored.sha256)  # raises before returning
    assert "Chunk 2" in str(refused.value)
    with pytest.raises(EvidenceTampered):
        store.verify(stored.storage_name, stored.sha256)


def test_a_file_swapped_for_another_is_refused(store):
    first = store.save(io.BytesIO(b"first statement " * 100), max_size=MB)
    second = store.save(io.BytesIO(b"second statement " * 100), max_size=MB)
    first_path = store.directory / first.storage_name
    # a whole valid file copied over another: its file id no longer matches its name
    first_path.write_bytes((store.directory / second.storage_name).read_bytes())
    with pytest.raises(EvidenceTampered):
        store.open_verified(first.storage_name, first.sha256)
    with pytest.raises(EvidenceTampered, match="SHA-256"):
        store.verify(second.storage_name, first.sha256)  # the wrong recorded hash


def test_a_truncated_file_is_refused(store):
    stored = store.save(io.BytesIO(os.urandom(2 * MB + 10)), max_size=10 * MB)
    path = store.directory / stored.storage_name
    path.write_bytes(path.read_bytes()[: 36 + MB + 16])  # cut at a chunk boundary
    with pytest.raises(EvidenceTampered, match="truncated"):
        store.verify(stored.storage_name, stored.sha256)


def test_an_oversize_upload_is_refused_and_leaves_no_file(store):
    with pytest.raises(EvidenceTooLarge, match="1048576 bytes"):
        store.save(io.BytesIO(os.urandom(3 * MB)), max_size=MB)
    assert _files(store) == []


def test_a_full_disk_fails_cleanly_and_leaves_no_file(store, monkeypatch):
    real = store_module.encrypt_stream

    def write_then_fill_the_disk(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        class FullDisk(io.RawIOBase):
            written = 0

            def writable(self) -> bool:
                return True

            def write(self, data) -> int:  # type: ignore[no-untyped-def,override]
                if self.written > MB:
                    raise OSError(errno.ENOSPC, "No space left on device")
                dst.write(data)
                self.written += len(data)
                return len(data)

        return real(src, FullDisk(), **kwargs)

    monkeypatch.setattr(store_module, "encrypt_stream", write_then_fill_the_disk)
    with pytest.raises(EvidenceStorageFull, match="out of disk space"):
        store.save(io.BytesIO(os.urandom(3 * MB)), max_size=10 * MB)
    assert _files(store) == []


def test_names_are_never_paths(store):
    for name in ("../../etc/passwd", "/etc/passwd", "", "A" * 32, "0" * 31):
        with pytest.raises(EvidenceMissing):
            store.verify(name, "0" * 64)
    with pytest.raises(EvidenceMissing):
        store.verify("0" * 32, "0" * 64)


def test_the_store_offers_no_delete():
    assert not any("delete" in name or "remove" in name for name in dir(EvidenceStore))
