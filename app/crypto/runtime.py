"""One key ring per app, built from configuration on first use; the start-up key check."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import inspect

from app.crypto.blind_index import BlindIndexer
from app.crypto.cipher import FieldCipher
from app.crypto.keyring import PURPOSE_GENERAL, KeyRing
from app.crypto.providers import provider_from_config
from app.crypto.store import SqlKeyStore
from app.extensions import db

_EXTENSION = "amanat.crypto"
# A key shredded by another worker stops working here within this many seconds.
CACHE_TTL_SECONDS = 60.0


class CryptoState:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._keyring: KeyRing | None = None
        self._cipher: FieldCipher | None = None
        self._indexer: BlindIndexer | None = None

    def keyring(self) -> KeyRing:
        if self._keyring is None:
            store = SqlKeyStore()
            # A new key file is created only while no data key exists: never over live data.
            create = _data_keys_table_exists() and store.is_empty()
            provider = provider_from_config(self.app.config["MASTER_KEY_PROVIDER"],
                                            self.app.instance_path, create=create)
            self._keyring = KeyRing(provider, store, cache_ttl=CACHE_TTL_SECONDS)
        return self._keyring

    def cipher(self) -> FieldCipher:
        if self._cipher is None:
            self._cipher = FieldCipher(self.keyring())
        return self._cipher

    def indexer(self) -> BlindIndexer:
        if self._indexer is None:
            self._indexer = BlindIndexer.from_keyring(self.keyring())
        return self._indexer

    def reset(self) -> None:
        """Forget keys held in memory (after a master-key change or a restore)."""
        self._keyring = self._cipher = self._indexer = None


def _data_keys_table_exists() -> bool:
    return inspect(db.session.connection()).has_table("data_keys")


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = CryptoState(app)


def state() -> CryptoState:
    return current_app.extensions[_EXTENSION]


def keyring() -> KeyRing:
    return state().keyring()


def cipher() -> FieldCipher:
    return state().cipher()


def indexer() -> BlindIndexer:
    return state().indexer()


def general_key_id() -> int:
    return keyring().active_key_id(PURPOSE_GENERAL)


def check_keys_at_start(app: Flask) -> None:
    """Refuse to start when encrypted data exists but the master key is missing or wrong.

    Reads only; raises a CryptoError whose message tells the operator what to do.
    """
    with app.app_context():
        if not _data_keys_table_exists() or SqlKeyStore().is_empty():
            return
        state().keyring().check_master()
        db.session.rollback()
