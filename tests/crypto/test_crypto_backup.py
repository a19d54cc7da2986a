"""Specification of master-key backup: exported under a passphrase, imported only with it."""

import base64
import json

import pytest

from app.crypto.backup import BEGIN_LINE, END_LINE, export_master_key, import_master_key
from app.crypto.errors import WrongKeyError
from app.crypto.providers import generate_master_key

PASSPHRASE = "seven long words in a row"
FAST = 2**14  # the lowest work factor the format accepts; production uses the 2**17 default


def body_of(blob):
    return json.loads(blob.strip()[len(BEGIN_LINE) : -len(END_LINE)])


def rebuild(body):
    return f"{BEGIN_LINE}\n{json.dumps(body)}\n{END_LINE}\n"


def test_backup_round_trips_with_the_default_work_factor():
    key = generate_master_key()
    blob = export_master_key(key, PASSPHRASE)
    assert body_of(blob)["n"] == 2**17
    assert import_master_key(blob, PASSPHRASE) == key


def test_backup_is_armoured_text_recording_its_scrypt_parameters():
    key = generate_master_key()
    blob = export_master_key(key, PASSPHRASE, scrypt_n=FAST)
    body = body_of(blob)
    assert blob.startswith(BEGIN_LINE)
    assert (body["kdf"], body["n"], body["r"], body["p"]) == ("scrypt", FAST, 8, 1)
    assert base64.b64encode(key).decode() not in blob
    assert key.hex() not in blob


def test_wrong_passphrase_is_refused_with_a_clear_message():
    blob = export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=FAST)
    with pytest.raises(WrongKeyError, match="passphrase is wrong"):
        import_master_key(blob, "seven long words in a rov")


def test_damaged_ciphertext_is_refused():
    blob = export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=FAST)
    body = body_of(blob)
    sealed = bytearray(base64.b64decode(body["ciphertext"]))
    sealed[0] ^= 1
    body["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(WrongKeyError):
        import_master_key(rebuild(body), PASSPHRASE)


def test_edited_parameters_are_refused():
    blob = export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=FAST)
    body = body_of(blob)
    body["key_id"] = "0" * 16
    with pytest.raises(WrongKeyError):
        import_master_key(rebuild(body), PASSPHRASE)


@pytest.mark.parametrize(
    "blob",
    ["", "hello", f"{BEGIN_LINE}\nnot json\n{END_LINE}", f"{BEGIN_LINE}\n[1, 2]\n{END_LINE}"],
)
def test_something_that_is_not_a_backup_is_refused(blob):
    with pytest.raises(WrongKeyError, match="damaged"):
        import_master_key(blob, PASSPHRASE)


@pytest.mark.parametrize("n", [2**10, 2**30, 3 * 2**14])
def test_a_backup_demanding_weak_or_huge_scrypt_work_is_refused(n):
    body = body_of(export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=FAST))
    body["n"] = n
    with pytest.raises(WrongKeyError, match="scrypt"):
        import_master_key(rebuild(body), PASSPHRASE)


def test_export_refuses_a_work_factor_below_the_floor():
    with pytest.raises(ValueError):
        export_master_key(generate_master_key(), PASSPHRASE, scrypt_n=2**12)


def test_passphrase_shorter_than_12_characters_is_refused():
    with pytest.raises(ValueError, match="12"):
        export_master_key(generate_master_key(), "short pass!")


def test_passphrase_typed_in_another_unicode_form_still_imports():
    key = generate_master_key()
    blob = export_master_key(key, "café au lait, s'il vous plaît", scrypt_n=FAST)
    assert import_master_key(blob, "cafe\u0301 au lait, s'il vous plai\u0302t") == key
