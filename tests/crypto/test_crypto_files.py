"""Specification of evidence file encryption: chunked, authenticated, hashed, in constant memory."""

import hashlib
import io
import os
import tracemalloc

import pytest

from app.crypto.errors import FileTooLargeError, IntegrityError
from app.crypto.files import (
    HEADER_BYTES,
    TAG_BYTES,
    decrypt_stream,
    encrypt_stream,
    iter_decrypted,
    read_key_id,
    verify_file,
)

KEY = bytes(range(32))
CHUNK = 1024
SEALED = CHUNK + TAG_BYTES


def encrypt(data, *, file_id="f-1", key=KEY, chunk_size=CHUNK, key_id=7, max_size=None):
    out = io.BytesIO()
    digest, size = encrypt_stream(
        io.BytesIO(data),
        out,
        key=key,
        key_id=key_id,
        file_id=file_id,
        chunk_size=chunk_size,
        max_size=max_size,
    )
    return out.getvalue(), digest, size


def decrypt(blob, *, file_id="f-1", key=KEY, expected=None):
    out = io.BytesIO()
    digest = decrypt_stream(
        io.BytesIO(blob), out, key=key, file_id=file_id, expected_sha256=expected
    )
    return out.getvalue(), digest


def chunks_of(blob):
    body = blob[HEADER_BYTES:]
    return blob[:HEADER_BYTES], [body[i : i + SEALED] for i in range(0, len(body), SEALED)]


def test_five_megabytes_round_trip_with_a_small_chunk_size():
    data = os.urandom(5 * 1024 * 1024 + 123)
    blob, digest, size = encrypt(data, chunk_size=4096)
    assert size == len(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert decrypt(blob, expected=digest) == (data, digest)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_sizes_at_and_around_chunk_boundaries_round_trip(size):
    data = os.urandom(size)
    blob, digest, _ = encrypt(data)
    assert decrypt(blob, expected=digest)[0] == data


def test_encrypted_file_does_not_contain_the_plaintext():
    data = b"CANARY-evidence-4b1d " * 200
    blob, _, _ = encrypt(data)
    assert b"CANARY" not in blob


def test_same_file_encrypts_differently_each_time():
    data = b"same photo" * 500
    assert encrypt(data)[0] != encrypt(data)[0]


def test_header_carries_the_key_id_and_reading_it_leaves_the_stream_in_place():
    blob, _, _ = encrypt(b"data", key_id=4242)
    src = io.BytesIO(blob)
    assert read_key_id(src) == 4242
    assert src.tell() == 0
    out = io.BytesIO()
    decrypt_stream(src, out, key=KEY, file_id="f-1")
    assert out.getvalue() == b"data"


def test_file_truncated_at_a_chunk_boundary_is_refused():
    blob, _, _ = encrypt(os.urandom(3 * CHUNK + 10))
    with pytest.raises(IntegrityError, match="truncated"):
        decrypt(blob[: HEADER_BYTES + 2 * SEALED])


@pytest.mark.parametrize("cut", [1, TAG_BYTES, 500])
def test_file_truncated_inside_a_chunk_is_refused(cut):
    blob, _, _ = encrypt(os.urandom(3 * CHUNK + 600))
    with pytest.raises(IntegrityError):
        decrypt(blob[:-cut])


def test_file_cut_down_to_its_header_is_refused():
    blob, _, _ = encrypt(b"some data")
    with pytest.raises(IntegrityError, match="truncated"):
        decrypt(blob[:HEADER_BYTES])


def test_reordered_chunks_are_refused():
    header, chunks = chunks_of(encrypt(os.urandom(4 * CHUNK))[0])
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(IntegrityError, match="Chunk 1"):
        decrypt(header + b"".join(chunks))


def test_duplicated_chunk_is_refused():
    header, chunks = chunks_of(encrypt(os.urandom(4 * CHUNK))[0])
    with pytest.raises(IntegrityError):
        decrypt(header + b"".join([chunks[0], chunks[0], *chunks[2:]]))


def test_data_appended_after_the_final_chunk_is_refused():
    blob, _, _ = encrypt(os.urandom(2 * CHUNK + 5))
    with pytest.raises(IntegrityError):
        decrypt(blob + b"extra bytes")


def test_chunk_swapped_in_from_another_file_under_the_same_key_is_refused():
    header_a, chunks_a = chunks_of(encrypt(os.urandom(3 * CHUNK), file_id="a")[0])
    _, chunks_b = chunks_of(encrypt(os.urandom(3 * CHUNK), file_id="a")[0])
    chunks_a[1] = chunks_b[1]
    with pytest.raises(IntegrityError):
        decrypt(header_a + b"".join(chunks_a), file_id="a")


def test_a_flipped_byte_is_refused_wherever_it_is():
    blob, _, _ = encrypt(os.urandom(2 * CHUNK + 100))
    for position in list(range(HEADER_BYTES)) + [
        HEADER_BYTES,
        HEADER_BYTES + SEALED - 1,
        len(blob) - 1,
        len(blob) - 50,
    ]:
        damaged = bytearray(blob)
        damaged[position] ^= 0x01
        with pytest.raises(IntegrityError):
            decrypt(bytes(damaged))


def test_file_stored_under_another_file_id_is_refused():
    blob, _, _ = encrypt(b"photo of the scene", file_id="evidence-1")
    with pytest.raises(IntegrityError):
        decrypt(blob, file_id="evidence-2")


def test_wrong_key_is_refused():
    blob, _, _ = encrypt(b"photo of the scene")
    with pytest.raises(IntegrityError):
        decrypt(blob, key=bytes(32))


def test_something_that_is_not_an_encrypted_file_is_refused():
    with pytest.raises(IntegrityError, match="not an Amanat"):
        decrypt(b"%PDF-1.7 plain file" * 10)


def test_upload_over_the_size_limit_raises_file_too_large():
    with pytest.raises(FileTooLargeError) as caught:
        encrypt(os.urandom(10 * CHUNK + 1), max_size=10 * CHUNK)
    assert caught.value.max_size == 10 * CHUNK


def test_upload_exactly_at_the_size_limit_is_accepted():
    data = os.urandom(10 * CHUNK)
    blob, digest, size = encrypt(data, max_size=len(data))
    assert size == len(data)


def test_size_limit_stops_reading_early_on_an_endless_stream():
    class Endless(io.RawIOBase):
        read_so_far = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            Endless.read_so_far += len(buffer)
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    with pytest.raises(FileTooLargeError):
        encrypt_stream(
            Endless(),
            io.BytesIO(),
            key=KEY,
            key_id=1,
            file_id="x",
            chunk_size=CHUNK,
            max_size=5 * CHUNK,
        )
    assert Endless.read_so_far <= 7 * CHUNK


def test_hash_different_from_the_one_recorded_at_intake_raises_integrity_error():
    blob, _, _ = encrypt(b"original")
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(IntegrityError, match="SHA-256"):
        decrypt(blob, expected=wrong)
    with pytest.raises(IntegrityError, match="SHA-256"):
        verify_file(io.BytesIO(blob), key=KEY, file_id="f-1", expected_sha256=wrong)


def test_verify_file_returns_the_hash_when_everything_matches():
    data = os.urandom(3000)
    blob, digest, _ = encrypt(data)
    assert (
        verify_file(io.BytesIO(blob), key=KEY, file_id="f-1", expected_sha256=digest.upper())
        == digest
    )


def test_streaming_download_holds_back_the_final_chunk_when_the_hash_differs():
    data = os.urandom(3 * CHUNK + 7)
    blob, digest, _ = encrypt(data)
    sent = []
    with pytest.raises(IntegrityError):
        for chunk in iter_decrypted(
            io.BytesIO(blob), key=KEY, file_id="f-1", expected_sha256="0" * 64
        ):
            sent.append(chunk)
    assert b"".join(sent) == data[: 3 * CHUNK]
    streamed = iter_decrypted(io.BytesIO(blob), key=KEY, file_id="f-1", expected_sha256=digest)
    assert b"".join(streamed) == data


def test_short_reads_from_a_pipe_do_not_change_the_output():
    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = memoryview(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            n = min(len(buffer), 100, len(self.data))
            buffer[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    data = os.urandom(5 * CHUNK + 3)
    out = io.BytesIO()
    digest, _ = encrypt_stream(
        Trickle(data), out, key=KEY, key_id=1, file_id="f-1", chunk_size=CHUNK
    )
    plain = io.BytesIO()
    decrypt_stream(Trickle(out.getvalue()), plain, key=KEY, file_id="f-1", expected_sha256=digest)
    assert plain.getvalue() == data


class Zeros(io.RawIOBase):
    """A readable stream of ``size`` zero bytes that never holds them all in memory."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


class Sink(io.RawIOBase):
    """A writable stream that only counts what it is given."""

    def __init__(self):
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self.size += len(data)
        return len(data)


def test_memory_stays_constant_for_a_50_megabyte_file(tmp_path):
    size, limit = 50 * 1024 * 1024, 8 * 1024 * 1024
    encrypted = tmp_path / "evidence.bin"

    tracemalloc.start()
    try:
        with encrypted.open("wb") as out:
            digest, _ = encrypt_stream(Zeros(size), out, key=KEY, key_id=1, file_id="big")
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        sink = Sink()
        with encrypted.open("rb") as src:
            decrypt_stream(src, sink, key=KEY, file_id="big", expected_sha256=digest)
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sink.size == size
    assert encrypt_peak < limit, encrypt_peak
    assert decrypt_peak < limit, decrypt_peak


@pytest.mark.parametrize("chunk_size", [0, 63, 17 * 1024 * 1024])
def test_impossible_chunk_sizes_are_refused(chunk_size):
    with pytest.raises(ValueError):
        encrypt(b"x", chunk_size=chunk_size)
