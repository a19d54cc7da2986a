"""Specification of the crypto errors: one family, each with a message a person can act on."""

import pytest

from app.crypto import errors

ALL_ERRORS = [
    errors.KeyMissingError,
    errors.KeyPermissionError,
    errors.KeyFormatError,
    errors.WrongKeyError,
    errors.DecryptionError,
    errors.ShreddedError,
    errors.IntegrityError,
    errors.FileTooLargeError,
]


@pytest.mark.parametrize("error_class", ALL_ERRORS)
def test_every_error_is_a_crypto_error_with_a_readable_default_message(error_class):
    error = error_class()
    assert isinstance(error, errors.CryptoError)
    assert len(str(error)) > 30


def test_a_custom_message_replaces_the_default():
    assert str(errors.WrongKeyError("use the backup")) == "use the backup"


def test_file_integrity_errors_can_be_caught_as_decryption_errors():
    assert issubclass(errors.IntegrityError, errors.DecryptionError)


def test_shredded_error_names_the_destroyed_key():
    error = errors.ShreddedError(key_id=42)
    assert error.key_id == 42
    assert "42" in str(error)


def test_file_too_large_error_states_the_limit():
    error = errors.FileTooLargeError(max_size=1000)
    assert error.max_size == 1000
    assert "1000" in str(error)
