"""Specification of envelope encryption: data keys wrapped by the master key, rotated, shredded."""

import pytest

from app.crypto.errors import DecryptionError, KeyMissingError, ShreddedError, WrongKeyError
from app.crypto.keyring import (
    PURPOSE_GENERAL,
    PURPOSE_PERSON,
    KeyRing,
    MemoryKeyStore,
    master_key_id,
)
from app.crypto.providers import ExternalKeyProvider, generate_master_key


def make_ring(master=None, store=None, **options):
    master = master or generate_master_key()
    return KeyRing(ExternalKeyProvider(lambda: master), store or MemoryKeyStore(), **options)


def test_data_key_is_32_random_bytes_that_survive_a_fresh_key_ring():
    master, store = generate_master_key(), MemoryKeyStore()
    ring = make_ring(master, store)
    key_id = ring.new_key(PURPOSE_GENERAL)
    key = ring.data_key(key_id)
    assert len(key) == 32
    assert make_ring(master, store).data_key(key_id) == key


def test_store_holds_only_the_wrapped_form_of_a_data_key():
    ring = make_ring()
    key_id = ring.new_key(PURPOSE_GENERAL)
    record = ring.store.get(key_id)
    assert record.wrapped is not None
    assert ring.data_key(key_id) not in record.wrapped
    assert record.master_key_id == ring.master_key_id


def test_active_key_is_created_once_per_purpose_and_then_reused():
    ring = make_ring()
    general = ring.active_key_id(PURPOSE_GENERAL)
    assert ring.active_key_id(PURPOSE_GENERAL) == general
    assert ring.active_key_id("evidence") != general


def test_new_active_key_replaces_the_old_one_which_still_unwraps():
    ring = make_ring()
    old = ring.active_key_id(PURPOSE_GENERAL)
    old_key = ring.data_key(old)
    new = ring.new_key(PURPOSE_GENERAL)
    assert ring.active_key_id(PURPOSE_GENERAL) == new != old
    assert ring.data_key(old) == old_key


def test_per_person_keys_are_not_made_active():
    ring = make_ring()
    general = ring.active_key_id(PURPOSE_GENERAL)
    person_keys = {ring.new_key(PURPOSE_PERSON, make_active=False) for _ in range(5)}
    assert len(person_keys) == 5
    assert ring.store.active(PURPOSE_PERSON) is None
    assert ring.active_key_id(PURPOSE_GENERAL) == general


@pytest.mark.parametrize("purpose", ["", "General", "a|b", "x" * 40, "général"])
def test_key_purpose_must_be_a_short_lowercase_name(purpose):
    with pytest.raises(ValueError):
        make_ring().new_key(purpose)


def test_wrong_master_key_raises_wrong_key_error():
    store = MemoryKeyStore()
    key_id = make_ring(store=store).new_key(PURPOSE_GENERAL)
    with pytest.raises(WrongKeyError, match="master key"):
        make_ring(store=store).data_key(key_id)


def test_unknown_key_id_raises_key_missing_error():
    with pytest.raises(KeyMissingError):
        make_ring().data_key(99)


def test_wrapped_key_moved_to_another_key_id_fails_authentication():
    ring = make_ring()
    first, second = ring.new_key(PURPOSE_PERSON, False), ring.new_key(PURPOSE_PERSON, False)
    moved = ring.store.get(first).wrapped
    ring.store.replace_wrapping(second, moved, ring.master_key_id)
    with pytest.raises(DecryptionError, match="altered"):
        KeyRing(ring.provider, ring.store).data_key(second)


def test_check_master_accepts_an_empty_store():
    make_ring().check_master()


def test_check_master_accepts_the_right_master_key():
    master, store = generate_master_key(), MemoryKeyStore()
    make_ring(master, store).active_key_id(PURPOSE_GENERAL)
    make_ring(master, store).check_master()


def test_check_master_refuses_a_different_master_key_with_a_clear_message():
    store = MemoryKeyStore()
    original = make_ring(store=store)
    original.active_key_id(PURPOSE_GENERAL)
    with pytest.raises(WrongKeyError, match="not the one that wrapped") as caught:
        make_ring(store=store).check_master()
    assert original.master_key_id in str(caught.value)


def test_check_master_reports_an_interrupted_master_rotation():
    master, store = generate_master_key(), MemoryKeyStore()
    ring = make_ring(master, store)
    for _ in range(3):
        ring.new_key(PURPOSE_PERSON, make_active=False)
    half_rotated = ring.store.get(1)
    new_master = generate_master_key()
    half_rotated.master_key_id = master_key_id(new_master)
    store.replace_wrapping(1, half_rotated.wrapped, half_rotated.master_key_id)
    with pytest.raises(WrongKeyError, match="rotation was interrupted"):
        make_ring(master, store).check_master()


def test_check_master_detects_a_tampered_wrapped_key():
    ring = make_ring()
    key_id = ring.new_key(PURPOSE_GENERAL)
    wrapped = bytearray(ring.store.get(key_id).wrapped)
    wrapped[-1] ^= 1
    ring.store.replace_wrapping(key_id, bytes(wrapped), ring.master_key_id)
    with pytest.raises(DecryptionError):
        KeyRing(ring.provider, ring.store).check_master()


def test_destroyed_data_key_raises_shredded_error_while_other_keys_still_work():
    ring = make_ring()
    shredded = ring.new_key(PURPOSE_PERSON, make_active=False)
    kept = ring.new_key(PURPOSE_PERSON, make_active=False)
    kept_key = ring.data_key(kept)
    ring.data_key(shredded)  # warm the cache: destroy must also empty it
    ring.destroy(shredded)
    with pytest.raises(ShreddedError) as caught:
        ring.data_key(shredded)
    assert caught.value.key_id == shredded
    assert ring.store.get(shredded).wrapped is None
    assert ring.data_key(kept) == kept_key
    ring.check_master()


def test_destroying_the_active_key_makes_the_next_request_create_a_new_one():
    ring = make_ring()
    first = ring.active_key_id(PURPOSE_GENERAL)
    ring.destroy(first)
    assert ring.active_key_id(PURPOSE_GENERAL) != first


def test_a_key_shredded_by_another_process_stops_working_after_the_cache_ttl():
    master, store = generate_master_key(), MemoryKeyStore()
    web_worker = make_ring(master, store, cache_ttl=0)
    key_id = make_ring(master, store).new_key(PURPOSE_PERSON, make_active=False)
    web_worker.data_key(key_id)
    make_ring(master, store).destroy(key_id)
    with pytest.raises(ShreddedError):
        web_worker.data_key(key_id)


def test_unwrapped_key_cache_is_bounded():
    ring = make_ring(cache_size=3)
    ids = [ring.new_key(PURPOSE_PERSON, make_active=False) for _ in range(10)]
    for key_id in ids:
        ring.data_key(key_id)
    assert len(ring._cache) == 3


def test_master_rotation_rewraps_keys_old_master_stops_working_and_data_keys_stay_the_same():
    old_master, store = generate_master_key(), MemoryKeyStore()
    ring = make_ring(old_master, store)
    ids = [ring.active_key_id(PURPOSE_GENERAL)] + [
        ring.new_key(PURPOSE_PERSON, make_active=False) for _ in range(4)
    ]
    shredded = ids.pop()
    ring.destroy(shredded)
    before = {key_id: ring.data_key(key_id) for key_id in ids}

    new_master = generate_master_key()
    assert ring.rewrap_all(new_master) == len(ids)
    assert ring.master_key_id == master_key_id(new_master)

    fresh = make_ring(new_master, store)
    fresh.check_master()
    assert {key_id: fresh.data_key(key_id) for key_id in ids} == before
    with pytest.raises(ShreddedError):
        fresh.data_key(shredded)
    with pytest.raises(WrongKeyError):
        make_ring(old_master, store).check_master()
    with pytest.raises(WrongKeyError):
        make_ring(old_master, store).data_key(ids[0])


def test_master_rotation_resumes_after_an_interruption():
    old_master, store = generate_master_key(), MemoryKeyStore()
    ring = make_ring(old_master, store)
    ids = [ring.new_key(PURPOSE_PERSON, make_active=False) for _ in range(4)]
    new_master = generate_master_key()

    original_replace = store.replace_wrapping
    calls = []

    def crash_after_two(key_id, wrapped, mid):
        calls.append(key_id)
        if len(calls) > 2:
            raise RuntimeError("power cut")
        original_replace(key_id, wrapped, mid)

    store.replace_wrapping = crash_after_two
    with pytest.raises(RuntimeError):
        make_ring(old_master, store).rewrap_all(new_master)
    store.replace_wrapping = original_replace

    assert make_ring(old_master, store).rewrap_all(new_master) == 2
    fresh = make_ring(new_master, store)
    fresh.check_master()
    assert all(len(fresh.data_key(key_id)) == 32 for key_id in ids)


def test_master_key_id_is_a_fingerprint_not_the_key():
    master = generate_master_key()
    fingerprint = master_key_id(master)
    assert len(fingerprint) == 16
    assert fingerprint not in master.hex()
    assert fingerprint == master_key_id(master) != master_key_id(generate_master_key())


def test_master_key_is_read_when_first_needed_not_when_the_ring_is_built():
    calls = []

    def fetch():
        calls.append(1)
        return b"m" * 32

    ring = KeyRing(ExternalKeyProvider(fetch), MemoryKeyStore())
    assert calls == []
    ring.active_key_id(PURPOSE_GENERAL)
    ring.active_key_id("evidence")
    assert calls == [1]


def test_preload_unwraps_many_keys_with_one_store_read():
    import base64
    import os

    from app.crypto.keyring import KeyRing, MemoryKeyStore
    from app.crypto.providers import EnvKeyProvider, generate_master_key

    os.environ["AMANAT_PRELOAD_TEST_KEY"] = base64.b64encode(generate_master_key()).decode()
    store = MemoryKeyStore()
    ring = KeyRing(EnvKeyProvider("AMANAT_PRELOAD_TEST_KEY"), store)
    ids = [ring.new_key("person", make_active=False) for _ in range(5)]
    ring._cache.clear()
    single_get = store.get
    reads = []

    def get_many(wanted):
        reads.append(list(wanted))
        return [single_get(i) for i in wanted]

    def refuse(key_id):
        raise AssertionError("a key was read one by one")

    store.get_many = get_many  # type: ignore[attr-defined]
    store.get = refuse  # type: ignore[method-assign]
    ring.preload(ids)
    assert reads == [sorted(ids)]
    assert all(len(ring.data_key(i)) == 32 for i in ids)  # served from the cache
