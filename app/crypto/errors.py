"""Exceptions raised by the encryption core, each carrying a message an operator can act on."""


class CryptoError(Exception):
    """Base class for every error raised by ``app.crypto``."""

    default_message = "A cryptographic operation failed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class KeyMissingError(CryptoError):
    """A key that is needed is not where it should be."""

    default_message = (
        "The encryption key could not be found. Check the key provider setting "
        "(AMANAT key file, environment variable or external provider)."
    )


class KeyPermissionError(CryptoError):
    """The master key file is readable by other users of the machine."""

    default_message = (
        "The master key file is readable by other users. Restrict it with "
        "'chmod 600' and make sure only the Amanat service account owns it."
    )


class KeyFormatError(CryptoError):
    """Key material was found but is not a well-formed 32-byte key."""

    default_message = "The key material is malformed: expected a 32-byte key in base64."


class WrongKeyError(CryptoError):
    """The master key (or backup passphrase) is not the one that protected this data."""

    default_message = (
        "The master key does not match the one that protected this database's data keys. "
        "Restore the right key file or import it from the key backup."
    )


class DecryptionError(CryptoError):
    """A ciphertext failed authentication: it was altered, truncated or moved elsewhere."""

    default_message = (
        "A stored value failed to decrypt: it was altered, damaged, or copied from "
        "another record or field."
    )


class ShreddedError(CryptoError):
    """The data key for this value was destroyed on purpose (crypto-shredding)."""

    default_message = (
        "This value's key was destroyed (crypto-shredded); it can never be read again."
    )

    def __init__(self, message: str | None = None, *, key_id: int | None = None) -> None:
        self.key_id = key_id
        if message is None and key_id is not None:
            message = (
                f"Data key {key_id} was destroyed (crypto-shredded); the values it protected "
                "can never be read again."
            )
        super().__init__(message)


class IntegrityError(DecryptionError):
    """An evidence file is damaged, truncated, reordered or not the file that was recorded."""

    default_message = (
        "The evidence file failed its integrity check: it is damaged, truncated or "
        "not the file recorded at intake."
    )


class FileTooLargeError(CryptoError):
    """An upload exceeded the size limit while it was being encrypted."""

    default_message = "The file is larger than the upload limit."

    def __init__(self, message: str | None = None, *, max_size: int | None = None) -> None:
        self.max_size = max_size
        if message is None and max_size is not None:
            message = f"The file is larger than the upload limit of {max_size} bytes."
        super().__init__(message)
