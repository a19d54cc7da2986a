"""Specification of master-key providers: key file, environment variable and external hook."""

import base64
import os
import stat
import sys

import pytest

from app.crypto.errors import CryptoError, KeyFormatError, KeyMissingError, KeyPermissionError
from app.crypto.providers import (
    KEY_FILE_HEADER,
    EnvKeyProvider,
    ExternalKeyProvider,
    FileKeyProvider,
    KeyProvider,
    generate_master_key,
    provider_from_config,
)


def write_key_file(path, key, mode=0o600):
    path.write_text(f"{KEY_FILE_HEADER}\n{base64.b64encode(key).decode()}\n")
    os.chmod(path, mode)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_missing_key_file_is_created_with_mode_0600_when_allowed(tmp_path):
    path = tmp_path / "instance" / "master.key"
    key = FileKeyProvider(path, create=True).load()
    assert len(key) == 32
    assert mode_of(path) == 0o600
    assert path.read_text().splitlines()[0] == KEY_FILE_HEADER
    assert FileKeyProvider(path).load() == key


def test_key_file_is_created_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        FileKeyProvider(tmp_path / "master.key", create=True).load()
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "master.key") == 0o600


def test_existing_key_file_is_never_overwritten_by_create(tmp_path):
    path = tmp_path / "master.key"
    key = generate_master_key()
    write_key_file(path, key)
    assert FileKeyProvider(path, create=True).load() == key


def test_missing_key_file_is_refused_without_create(tmp_path):
    with pytest.raises(KeyMissingError, match="does not exist"):
        FileKeyProvider(tmp_path / "master.key").load()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_group_or_others_is_refused(tmp_path, mode):
    path = tmp_path / "master.key"
    write_key_file(path, generate_master_key(), mode)
    with pytest.raises(KeyPermissionError, match="chmod 600"):
        FileKeyProvider(path).load()


def test_symlinked_key_file_is_refused(tmp_path):
    real = tmp_path / "real.key"
    write_key_file(real, generate_master_key())
    link = tmp_path / "master.key"
    link.symlink_to(real)
    with pytest.raises(KeyMissingError):
        FileKeyProvider(link).load()


@pytest.mark.parametrize(
    "content",
    [
        "not a key\n",
        f"{KEY_FILE_HEADER}\n!!!not-base64!!!\n",
        f"{KEY_FILE_HEADER}\n{base64.b64encode(b'short').decode()}\n",
        base64.b64encode(b"k" * 32).decode() + "\n",
    ],
)
def test_malformed_key_file_is_refused(tmp_path, content):
    path = tmp_path / "master.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFormatError):
        FileKeyProvider(path).load()


def test_store_replaces_the_key_file_atomically_and_keeps_it_private(tmp_path):
    path = tmp_path / "master.key"
    provider = FileKeyProvider(path, create=True)
    provider.load()
    new_key = generate_master_key()
    provider.store(new_key)
    assert provider.load() == new_key
    assert mode_of(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]


def test_describe_names_the_source_but_never_the_key(tmp_path, monkeypatch):
    key = generate_master_key()
    monkeypatch.setenv("AMANAT_TEST_KEY", base64.b64encode(key).decode())
    providers = [
        FileKeyProvider(tmp_path / "master.key", create=True),
        EnvKeyProvider("AMANAT_TEST_KEY"),
    ]
    for provider in providers:
        loaded = provider.load()
        assert base64.b64encode(loaded).decode() not in provider.describe()
        assert loaded.hex() not in provider.describe()
    assert "AMANAT_TEST_KEY" in providers[1].describe()


def test_environment_provider_reads_a_base64_key(monkeypatch):
    key = generate_master_key()
    monkeypatch.setenv("AMANAT_TEST_KEY", base64.b64encode(key).decode())
    assert EnvKeyProvider("AMANAT_TEST_KEY").load() == key


def test_environment_provider_refuses_a_missing_variable(monkeypatch):
    monkeypatch.delenv("AMANAT_TEST_KEY", raising=False)
    with pytest.raises(KeyMissingError, match="AMANAT_TEST_KEY"):
        EnvKeyProvider("AMANAT_TEST_KEY").load()


@pytest.mark.parametrize("value", ["not base64 at all!", base64.b64encode(b"x" * 16).decode()])
def test_environment_provider_refuses_a_malformed_key(monkeypatch, value):
    monkeypatch.setenv("AMANAT_TEST_KEY", value)
    with pytest.raises(KeyFormatError):
        EnvKeyProvider("AMANAT_TEST_KEY").load()


def test_environment_provider_cannot_store_a_rotated_key():
    with pytest.raises(CryptoError, match="cannot store"):
        EnvKeyProvider("AMANAT_TEST_KEY").store(generate_master_key())


def test_external_provider_returns_what_its_callable_fetches():
    key = generate_master_key()
    stored = []
    provider = ExternalKeyProvider(lambda: key, description="test KMS", store=stored.append)
    assert provider.load() == key
    provider.store(key)
    assert stored == [key]
    assert provider.describe() == "test KMS"


def test_external_provider_refuses_a_key_of_the_wrong_length():
    with pytest.raises(KeyFormatError):
        ExternalKeyProvider(lambda: b"too short").load()


def test_config_file_spec_resolves_relative_paths_inside_the_instance_folder(tmp_path):
    provider = provider_from_config("file:master.key", tmp_path)
    assert isinstance(provider, FileKeyProvider)
    assert provider.path == tmp_path / "master.key"
    assert not provider.create
    absolute = provider_from_config(f"file:{tmp_path}/elsewhere.key", "/nonexistent", create=True)
    assert absolute.path == tmp_path / "elsewhere.key"
    assert absolute.create


def test_config_env_spec_builds_an_environment_provider(tmp_path):
    provider = provider_from_config("env:AMANAT_MASTER_KEY", tmp_path)
    assert isinstance(provider, EnvKeyProvider)
    assert provider.var_name == "AMANAT_MASTER_KEY"


def test_config_module_spec_calls_the_named_factory(tmp_path, monkeypatch):
    (tmp_path / "amanat_test_kms.py").write_text(
        "from app.crypto.providers import ExternalKeyProvider\n"
        "def make_provider():\n"
        "    return ExternalKeyProvider(lambda: b'k' * 32, description='fake KMS')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        provider = provider_from_config("module:amanat_test_kms:make_provider", tmp_path)
        assert isinstance(provider, KeyProvider)
        assert provider.load() == b"k" * 32
    finally:
        sys.modules.pop("amanat_test_kms", None)


@pytest.mark.parametrize("spec", ["", "file:", "vault:secret", "module:nofactory", "master.key"])
def test_config_spec_that_cannot_be_understood_is_refused(tmp_path, spec):
    with pytest.raises(ValueError):
        provider_from_config(spec, tmp_path)
