"""Signed checkpoints: C2SP tlog-checkpoint in a signed note, Ed25519, and the attacks on them."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.checkpoint import (
    BadSignatureError,
    Checkpoint,
    CheckpointError,
    MalformedCheckpointError,
    UnknownKeyError,
    decode_verifier_key,
    encode_verifier_key,
    generate_signing_key,
    key_id,
    parse_checkpoint,
    private_key_from_bytes,
    private_key_from_text,
    private_key_to_bytes,
    private_key_to_text,
    public_key_to_bytes,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_note,
)
from app.audit.merkle import (
    ProofError,
    consistency_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
)

ORIGIN = "amanat.example/audit"

# Known answer from golang.org/x/mod/sumdb/note (note.go doc and note_test.go): Ed25519 is
# deterministic, so our signer must reproduce Go's note byte for byte.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_private_key():
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return private_key_from_bytes(raw[1:])


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


@pytest.fixture(scope="module")
def other_key():
    return generate_signing_key()


def checkpoint(size=5, root=b"\x11" * 32):
    return Checkpoint(ORIGIN, size, root)


# --- interoperability -------------------------------------------------------------------------


def test_signing_reproduces_the_go_sumdb_note_example_byte_for_byte():
    assert sign_note(GO_TEXT, "PeterNeumann", go_private_key()) == GO_NOTE


def test_go_verifier_key_decodes_and_verifies_the_go_note():
    name, public_key = decode_verifier_key(GO_VKEY)
    assert name == "PeterNeumann"
    assert public_key_to_bytes(public_key) == public_key_to_bytes(go_private_key().public_key())
    assert encode_verifier_key(name, public_key) == GO_VKEY
    assert verify_note(GO_NOTE, name, public_key) == GO_TEXT
    with pytest.raises(BadSignatureError):
        verify_note(GO_NOTE.replace("cryptography", "cryptographY"), name, public_key)


def test_key_id_is_sha256_of_name_newline_type_and_key():
    assert key_id("PeterNeumann", go_private_key().public_key()).hex() == "c74f20a3"


def test_checkpoint_text_has_the_c2sp_layout(key):
    cp = checkpoint(size=20852163, root=bytes(range(32)))
    text = sign_checkpoint(cp, ORIGIN, key)
    body, signature = text.split("\n\n")
    assert body == f"{ORIGIN}\n20852163\n{base64.b64encode(bytes(range(32))).decode()}"
    assert signature.startswith(f"\u2014 {ORIGIN} ")
    assert text.endswith("\n")
    blob = base64.b64decode(signature.split(" ")[2])
    assert blob[:4] == key_id(ORIGIN, key.public_key())
    assert len(blob) == 4 + 64


DOC_VKEY = "amanat.example.org/audit+6552af2a+AYW6K9z5Ut+9EOndYRIVRj8BbixUhDDV2n2IlihTbFDG"
DOC_CHECKPOINT = (
    "amanat.example.org/audit\n5\nr//oRPsrNxIVIxZ4zpS3PEgiLVrsvmBHP6jPJ94VKi0=\n\n"
    "\u2014 amanat.example.org/audit ZVKvKjwFyIoUWrgpTdLLrXEo5Uj44q3qd6Ko7Ll9qFAjOHOvwfuOehrNbl20"
    "owjDE6ulWNANcS7iwqz4EAR7ypWhxgU=\n"
)


def test_example_in_docs_audit_format_verifies():
    name, public_key = decode_verifier_key(DOC_VKEY)
    cp = verify_checkpoint(DOC_CHECKPOINT, name, public_key, origin="amanat.example.org/audit")
    assert cp.size == 5


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(0, 2**63),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_checkpoint_round_trip(size, root, extensions):
    key = private_key_from_bytes(b"\x07" * 32)
    cp = Checkpoint(ORIGIN, size, root, tuple(extensions))
    text = sign_checkpoint(cp, ORIGIN, key)
    assert verify_checkpoint(text, ORIGIN, key.public_key(), origin=ORIGIN) == cp
    assert parse_checkpoint(text) == cp


def test_verifier_key_round_trip(key):
    vkey = encode_verifier_key(ORIGIN, key.public_key())
    name, public_key = decode_verifier_key(vkey)
    assert name == ORIGIN
    assert public_key_to_bytes(public_key) == public_key_to_bytes(key.public_key())


def test_private_key_round_trips_as_raw_bytes_and_encrypted_pem(key):
    assert private_key_to_bytes(private_key_from_bytes(private_key_to_bytes(key))) == (
        private_key_to_bytes(key)
    )
    pem = private_key_to_text(key, password=b"correct horse")
    assert "ENCRYPTED PRIVATE KEY" in pem
    assert private_key_to_bytes(private_key_from_text(pem, b"correct horse")) == (
        private_key_to_bytes(key)
    )
    with pytest.raises(ValueError):
        private_key_from_text(pem, b"wrong")
    plain = private_key_to_text(key)
    assert private_key_to_bytes(private_key_from_text(plain)) == private_key_to_bytes(key)


# --- tampering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("\n5\n", "\n6\n"),  # tree size
        ("ERERER", "ERESER"),  # root hash
        (ORIGIN + "\n", "amanat.example/other\n"),  # origin
    ],
)
def test_tampered_checkpoint_body_is_rejected(key, find, replace):
    text = sign_checkpoint(checkpoint(), ORIGIN, key)
    assert find in text
    with pytest.raises(BadSignatureError):
        verify_checkpoint(text.replace(find, replace, 1), ORIGIN, key.public_key())


def test_tampered_signature_is_rejected(key):
    text = sign_checkpoint(checkpoint(), ORIGIN, key)
    body, sig_line = text.split("\n\n")
    blob = bytearray(base64.b64decode(sig_line.split(" ")[2]))
    blob[10] ^= 1
    forged = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(BadSignatureError):
        verify_checkpoint(forged, ORIGIN, key.public_key())


def test_signature_by_another_key_is_rejected(key, other_key):
    text = sign_checkpoint(checkpoint(), ORIGIN, other_key)
    with pytest.raises(UnknownKeyError, match="no signature by key"):
        verify_checkpoint(text, ORIGIN, key.public_key())


def test_signatures_by_unknown_keys_are_ignored_next_to_a_good_one(key, other_key):
    text = sign_checkpoint(checkpoint(), ORIGIN, key)
    cosigned = sign_note(checkpoint().body(), "witness.example", other_key)
    text += cosigned.split("\n\n")[1]
    assert verify_checkpoint(text, ORIGIN, key.public_key()) == checkpoint()


def test_checkpoint_for_another_log_is_rejected_when_origin_is_given(key):
    text = sign_checkpoint(Checkpoint("elsewhere.example/log", 5, b"\x11" * 32), ORIGIN, key)
    with pytest.raises(CheckpointError, match="elsewhere"):
        verify_checkpoint(text, ORIGIN, key.public_key(), origin=ORIGIN)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no signature block\n",
        f"{ORIGIN}\n5\nERERERERERERERERERERERERERERERERERERERERERE=\n\n",
        f"{ORIGIN}\n5\nERERERERERERERERERERERERERERERERERERERERERE=\n\n- {ORIGIN} AAAA\n",
        f"{ORIGIN}\n5\nERERERERERERERERERERERERERERERERERERERERERE=\n\n\u2014 {ORIGIN} no*b64\n",
        f"{ORIGIN}\n05\nERERERERERERERERERERERERERERERERERERERERERE=\n",
        f"{ORIGIN}\n+5\nERERERERERERERERERERERERERERERERERERERERERE=\n",
        f"{ORIGIN}\n5\nERER\n",
        f"{ORIGIN}\n5\n",
        f"{ORIGIN}\n5\nERERERERERERERERERERERERERERERERERERERERERE=\n\nextra\n",
        f"{ORIGIN}\r\n5\nERERERERERERERERERERERERERERERERERERERERERE=\n",
    ],
)
def test_malformed_checkpoints_are_refused_with_a_clear_error(text):
    with pytest.raises(MalformedCheckpointError):
        parse_checkpoint(text)


def test_checkpoint_lines_that_are_not_valid_unicode_are_refused():
    with pytest.raises(MalformedCheckpointError):
        Checkpoint(ORIGIN, 1, b"\x11" * 32, ("\ud800",))


def test_malformed_verifier_keys_are_refused(key):
    vkey = encode_verifier_key(ORIGIN, key.public_key())
    name, hex_id, b64 = vkey.split("+", 2)
    ecdsa_type = base64.b64encode(bytes([2]) + bytes(32)).decode()
    for bad in [
        "",
        f"{name}+{hex_id}",
        f"{name}+00000000+{b64}",  # key ID does not match
        f"other.example+{hex_id}+{b64}",  # name does not match key ID
        f"{name}+{hex_id}+{ecdsa_type}",  # not Ed25519
    ]:
        with pytest.raises(MalformedCheckpointError):
            decode_verifier_key(bad)


# --- a rebuilt log with a fresh checkpoint ----------------------------------------------------


def test_rebuilt_log_with_fresh_checkpoint_is_caught_by_an_exported_checkpoint(key):
    public_key = key.public_key()
    rows = [f"entry {i}".encode() for i in range(12)]
    leaves = [leaf_hash(r) for r in rows]
    exported = sign_checkpoint(
        Checkpoint(ORIGIN, 8, root_from_leaf_hashes(leaves[:8])), ORIGIN, key
    )

    # Someone with the server (and its signing key) rewrites entry 3, rehashes everything
    # and signs a fresh checkpoint; on its own the rebuilt log looks perfect.
    rows[3] = b"entry 3, rewritten"
    forged_leaves = [leaf_hash(r) for r in rows]
    forged_root = root_from_leaf_hashes(forged_leaves)
    fresh = verify_checkpoint(
        sign_checkpoint(Checkpoint(ORIGIN, 12, forged_root), ORIGIN, key), ORIGIN, public_key
    )
    assert fresh.root_hash == root_from_leaf_hashes(forged_leaves)

    # The checkpoint exported earlier, kept outside the server, exposes it.
    old = verify_checkpoint(exported, ORIGIN, public_key)
    with pytest.raises(ProofError):
        verify_consistency(
            old.size,
            fresh.size,
            old.root_hash,
            fresh.root_hash,
            consistency_proof(old.size, forged_leaves),
        )
