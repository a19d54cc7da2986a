"""Master-key providers: where the 32-byte master key comes from (key file, environment, KMS)."""

import base64
import binascii
import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from .errors import CryptoError, KeyFormatError, KeyMissingError, KeyPermissionError
from .private_files import (
    PrivateFileError,
    create_private_once,
    fsync_dir,
    read_private_text,
    write_temp_beside,
)

MASTER_KEY_BYTES = 32
KEY_FILE_HEADER = "amanat-master-key v1"


def generate_master_key() -> bytes:
    """Return a fresh random 32-byte master key."""
    return os.urandom(MASTER_KEY_BYTES)


def _check_key(key: bytes, source: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != MASTER_KEY_BYTES:
        raise KeyFormatError(f"{source} did not supply a {MASTER_KEY_BYTES}-byte master key.")
    return bytes(key)


def _decode_b64_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{source} is not valid base64.") from None
    return _check_key(key, source)


class KeyProvider(ABC):
    """Supplies the master key. Implementations read the key when asked, never at import."""

    @abstractmethod
    def load(self) -> bytes:
        """Return the 32-byte master key or raise a ``CryptoError`` subclass."""

    @abstractmethod
    def describe(self) -> str:
        """Say where the key comes from, for messages and logs (never the key itself)."""

    def store(self, key: bytes) -> None:
        """Persist a new master key (used by master-key rotation)."""
        raise CryptoError(
            f"{self.describe()} cannot store a new master key; install it there yourself."
        )


class FileKeyProvider(KeyProvider):
    """Master key in a file readable only by its owner (mode 0600), e.g. ``instance/master.key``.

    The file holds a header line ``amanat-master-key v1`` and the key in base64. A file that is
    group- or world-accessible is refused. With ``create=True`` a missing file is created with
    a fresh random key, atomically: a concurrent starter either creates it or reads the winner's.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path)
        self.create = create

    def describe(self) -> str:
        return f"key file {self.path}"

    def load(self) -> bytes:
        try:
            text = read_private_text(self.path, what="The master key file", limit=4096)
        except FileNotFoundError:
            if not self.create:
                raise KeyMissingError(
                    f"The master key file {self.path} does not exist. Restore it from the key "
                    "backup, or point the key provider setting at the right file."
                ) from None
            return self._create()
        except PrivateFileError as error:
            kind = {"loose_permissions": KeyPermissionError,
                    "unopenable": KeyMissingError}.get(error.reason, KeyFormatError)
            raise kind(str(error)) from None
        return self._parse(text)

    def _parse(self, text: str) -> bytes:
        lines = text.strip().splitlines()
        if len(lines) != 2 or lines[0].strip() != KEY_FILE_HEADER:
            raise KeyFormatError(
                f"{self.path} is not an Amanat master key file (expected the line "
                f"'{KEY_FILE_HEADER}' followed by the key in base64)."
            )
        return _decode_b64_key(lines[1], str(self.path))

    def _serialise(self, key: bytes) -> bytes:
        return f"{KEY_FILE_HEADER}\n{base64.b64encode(key).decode('ascii')}\n".encode("ascii")

    def _write_temp(self, key: bytes) -> Path:
        """Write the key to a fresh 0600 file beside the target and return its path."""
        return write_temp_beside(self.path, self._serialise(key))

    def _fsync_dir(self) -> None:
        fsync_dir(self.path.parent)

    def _create(self) -> bytes:
        key = generate_master_key()
        if not create_private_once(self.path, self._serialise(key)):
            return FileKeyProvider(self.path).load()  # another process created it first
        return key

    def store(self, key: bytes) -> None:
        """Atomically replace the key file with ``key`` (mode 0600)."""
        key = _check_key(key, "The new master key")
        tmp = self._write_temp(key)
        os.replace(tmp, self.path)
        self._fsync_dir()


class EnvKeyProvider(KeyProvider):
    """Master key in an environment variable, as base64 (for containers and secret managers)."""

    def __init__(self, var_name: str) -> None:
        self.var_name = var_name

    def describe(self) -> str:
        return f"environment variable {self.var_name}"

    def load(self) -> bytes:
        value = os.environ.get(self.var_name)
        if not value:
            raise KeyMissingError(
                f"The environment variable {self.var_name} that should hold the master key "
                "is not set."
            )
        return _decode_b64_key(value, self.describe())


class ExternalKeyProvider(KeyProvider):
    """Hook for a KMS, Vault or HSM: give it a callable that returns the 32-byte master key.

    Plug one in by writing a small module with a factory and naming it in the key provider
    setting as ``module:yourpkg.kms:make_provider``::

        def make_provider() -> ExternalKeyProvider:
            client = hvac.Client(url=..., token=...)        # your own client library
            def fetch() -> bytes:
                secret = client.secrets.kv.read_secret_version(path="amanat/master")
                return base64.b64decode(secret["data"]["data"]["key"])
            return ExternalKeyProvider(fetch, description="Vault amanat/master")

    ``fetch`` is called each time the key ring needs the master key (normally once per
    process). Pass ``store`` as well if the service can accept a rotated key.
    """

    def __init__(
        self,
        fetch: Callable[[], bytes],
        *,
        description: str = "external key provider",
        store: Callable[[bytes], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._store = store
        self.description = description

    def describe(self) -> str:
        return self.description

    def load(self) -> bytes:
        return _check_key(self._fetch(), self.describe())

    def store(self, key: bytes) -> None:
        if self._store is None:
            super().store(key)
            return
        self._store(_check_key(key, "The new master key"))


def provider_from_config(
    spec: str, instance_path: str | os.PathLike[str], *, create: bool = False
) -> KeyProvider:
    """Build a provider from a setting: ``file:PATH``, ``env:VAR`` or ``module:pkg.mod:factory``.

    A relative ``file:`` path is taken inside ``instance_path``. ``create`` lets a missing key
    file be generated; pass it only on a first start (when the key store is still empty).
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ValueError(
            f"Key provider setting {spec!r} must look like file:PATH, env:VAR or "
            "module:package.module:factory."
        )
    if kind == "file":
        path = Path(rest)
        if not path.is_absolute():
            path = Path(instance_path) / path
        return FileKeyProvider(path, create=create)
    if kind == "env":
        return EnvKeyProvider(rest)
    if kind == "module":
        module_name, sep, factory_name = rest.rpartition(":")
        if not sep or not module_name or not factory_name:
            raise ValueError(f"Key provider setting {spec!r} must name module:pkg.mod:factory.")
        factory = getattr(importlib.import_module(module_name), factory_name)
        provider = factory()
        if not isinstance(provider, KeyProvider):
            raise TypeError(f"{module_name}:{factory_name}() must return a KeyProvider.")
        return provider
    raise ValueError(f"Unknown key provider kind {kind!r} in {spec!r}: use file, env or module.")
