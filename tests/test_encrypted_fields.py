"""Encrypted model fields: values round-trip, the column holds only ciphertext bound to its row,
and every declared field is listed in the registry."""

from __future__ import annotations

import pytest
from sqlalchemy import Uuid, bindparam, inspect, select, text

from app.crypto.cipher import FieldCipher
from app.crypto.errors import DecryptionError, KeyMissingError
from app.crypto.fields import EncryptedField, blind_index_of, encrypted, registered_fields
from app.extensions import db
from app.models.users import User
from tests.support import make_user


def _raw_seed(user_id) -> bytes:  # type: ignore[no-untyped-def]
    stored = db.session.execute(
        text("SELECT totp_secret_enc FROM users WHERE id = :id")
        .bindparams(bindparam("id", type_=Uuid)), {"id": user_id}
    ).scalar_one()
    return bytes(stored)


def _reload(user_id) -> User:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.get(User, user_id)


def test_totp_seed_round_trips_through_the_encrypted_field(app):
    person = make_user(app)
    with app.app_context():
        assert _reload(person.id).totp_secret == person.totp_secret


def test_the_raw_column_holds_no_plaintext(app):
    person = make_user(app)
    with app.app_context():
        blob = _raw_seed(person.id)
    assert person.totp_secret.encode() not in blob
    assert person.totp_secret.lower().encode() not in blob
    assert blob[0] == 1 and len(blob) == 33 + len(person.totp_secret)


def test_a_seed_copied_to_another_row_fails_to_decrypt(app):
    first, second = make_user(app), make_user(app)
    with app.app_context():
        db.session.execute(
            text("UPDATE users SET totp_secret_enc = "
                 "(SELECT totp_secret_enc FROM users WHERE id = :source) WHERE id = :target")
            .bindparams(bindparam("source", type_=Uuid), bindparam("target", type_=Uuid)),
            {"source": first.id, "target": second.id},
        )
        db.session.commit()
        assert _raw_seed(first.id) == _raw_seed(second.id)
        with pytest.raises(DecryptionError, match=r"users\.totp_secret"):
            _ = _reload(second.id).totp_secret
        assert _reload(first.id).totp_secret == first.totp_secret


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_a_flipped_bit_in_the_stored_value_fails(app, position):
    person = make_user(app)
    with app.app_context():
        blob = bytearray(_raw_seed(person.id))
        blob[position] ^= 0x01
        db.session.execute(
            text("UPDATE users SET totp_secret_enc = :blob WHERE id = :id")
            .bindparams(bindparam("id", type_=Uuid)), {"blob": bytes(blob), "id": person.id})
        db.session.commit()
        # a flip in the key id names a key that does not exist (KeyMissingError); elsewhere the
        # tag fails (DecryptionError): either way the value is refused, never misread
        expected = KeyMissingError if 1 <= position <= 4 else DecryptionError
        with pytest.raises(expected):
            _ = _reload(person.id).totp_secret


def test_the_value_is_under_the_active_general_key(app):
    person = make_user(app)
    with app.app_context():
        from app.crypto import runtime

        assert FieldCipher.key_id_of(_raw_seed(person.id)) == runtime.general_key_id()


def test_every_encrypted_field_is_registered_with_its_columns(app):
    fields = registered_fields()
    assert any(f.model is User and f.name == "totp_secret" and f.key_attr is None
               and f.blind_index is None for f in fields)
    labels = [f.label for f in fields]
    assert len(labels) == len(set(labels))
    with app.app_context():
        for entry in fields:
            assert isinstance(getattr(entry.model, entry.name), EncryptedField)
            columns = {c["name"] for c in inspect(db.engine).get_columns(entry.table)}
            assert entry.storage in columns, f"{entry.label} has no {entry.storage} column"
            if entry.key_attr:
                assert entry.key_attr in columns
            if entry.index_column:
                assert entry.index_column in columns


def test_registered_tables_are_all_readable(app):
    make_user(app)
    with app.app_context():
        for entry in registered_fields():
            table = entry.model.__table__
            db.session.execute(select(table.c[entry.storage]).limit(1)).all()


def test_blind_index_of_refuses_a_misspelt_index_name(app):
    with app.app_context():
        with pytest.raises(ValueError, match="Unknown blind index"):
            blind_index_of("person_nmae", "Ayesha Bibi")
        assert blind_index_of("person_name", "  \u200f ") is None
        assert blind_index_of("person_cnic", "no digits here") is None
        assert len(blind_index_of("person_name", "Ayesha Bibi") or b"") == 2
        assert blind_index_of("person_name", "AYESHA  bibi") == blind_index_of(
            "person_name", "Ayesha Bibi")


def test_a_field_declared_with_an_unknown_index_fails_at_once():
    with pytest.raises(ValueError, match="Unknown blind index"):
        encrypted(blind_index="person_nmae")
