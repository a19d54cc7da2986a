"""Data-key rotation: every value ends under the new key, in batches, and a run killed midway
leaves everything readable and is finished by the next run without making another key.

The kill is simulated in-process: the progress callback (called after each batch commits)
raises after the second batch. A kill inside a batch is a rolled-back transaction, which leaves
that batch exactly as it was before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Integer, MetaData, Uuid, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from app.cli import main
from app.crypto import fields as field_registry
from app.crypto import operations, runtime
from app.crypto.cipher import FieldCipher
from app.crypto.fields import encrypted
from app.crypto.keyring import PURPOSE_GENERAL, PURPOSE_PERSON
from app.extensions import db
from app.models.audit import AuditEntry
from app.models.keys import DataKey
from app.models.users import User
from tests.conftest import ON_POSTGRES
from tests.support import make_user

SEEDED = 30
BATCH = 7


class Killed(Exception):
    """Stands in for SIGKILL: nothing after it runs, committed batches stay committed."""


def _kill_after(batches: int):  # type: ignore[no-untyped-def]
    done = []

    def progress(_count: int) -> None:
        done.append(_count)
        if len(done) == batches:
            raise Killed()

    return progress


@pytest.fixture
def seeded(app) -> dict[uuid.UUID, str]:
    people = [make_user(app) for _ in range(SEEDED)]
    return {person.id: person.totp_secret for person in people}


def _key_ids_in_use() -> list[int]:
    return [FieldCipher.key_id_of(bytes(blob)) for blob in db.session.execute(
        select(User.totp_secret_enc).where(User.totp_secret_enc.is_not(None))).scalars()]


def _general_keys() -> list[DataKey]:
    return list(db.session.execute(
        select(DataKey).where(DataKey.purpose == PURPOSE_GENERAL)).scalars())


def _all_read(seeds: dict[uuid.UUID, str]) -> None:
    db.session.expire_all()
    for user_id, seed in seeds.items():
        assert db.session.get(User, user_id).totp_secret == seed


def test_rotation_moves_every_value_to_a_new_key_in_batches(app, seeded):
    with app.app_context():
        old_key = runtime.general_key_id()
        result = operations.rotate(batch_size=BATCH)
        new_key = runtime.general_key_id()
        assert new_key != old_key == next(k.id for k in _general_keys() if not k.active)
        assert set(_key_ids_in_use()) == {new_key}
        assert result.reencrypted == SEEDED
        assert result.batches == -(-SEEDED // BATCH)
        _all_read(seeded)
        assert operations.count_pending_values() == 0
        assert operations.unfinished_rotation() is None
        old = db.session.get(DataKey, old_key)
        assert not old.active and not old.destroyed  # retired, still able to read old backups


def test_rotation_is_audited_with_counts_and_no_values(app, seeded):
    with app.app_context():
        operations.rotate(batch_size=BATCH)
        entries = db.session.execute(select(AuditEntry).where(
            AuditEntry.action == operations.ROTATE_ACTION).order_by(AuditEntry.seq)).scalars()
        details = [json.loads(entry.details) for entry in entries]
    assert [d["stage"] for d in details] == ["start", "complete"]
    assert details[0]["pending_values"] == SEEDED and details[1]["reencrypted"] == SEEDED
    logged = json.dumps(details)
    assert not any(seed in logged for seed in seeded.values())


def test_a_rotation_killed_midway_leaves_everything_readable_and_resumes(app, seeded):
    with app.app_context():
        original = runtime.general_key_id()
        with pytest.raises(Killed):
            operations.rotate(batch_size=BATCH, progress=_kill_after(2))
        db.session.rollback()
        new_key = runtime.general_key_id()
        in_use = _key_ids_in_use()
        assert in_use.count(new_key) == 2 * BATCH
        assert in_use.count(original) == SEEDED - 2 * BATCH
        _all_read(seeded)
        assert operations.count_pending_values() == SEEDED - 2 * BATCH
        assert operations.unfinished_rotation() is not None

        plan = operations.begin_rotation()
        assert not plan.created_key and plan.resumed
        assert plan.general_key_id == new_key
        result = operations.run_rotation(plan, batch_size=BATCH)
        assert result.reencrypted == SEEDED - 2 * BATCH
        assert len(_general_keys()) == 2  # the original and one new key, not a third
        assert set(_key_ids_in_use()) == {new_key}
        _all_read(seeded)
        assert operations.unfinished_rotation() is None


def test_a_run_killed_after_its_last_batch_resumes_without_a_new_key(app, seeded):
    with app.app_context():
        batches = -(-SEEDED // BATCH)
        with pytest.raises(Killed):  # every value moved, completion never recorded
            operations.rotate(batch_size=BATCH, progress=_kill_after(batches))
        db.session.rollback()
        plan = operations.begin_rotation()
        assert not plan.created_key and plan.pending_values == 0
        operations.run_rotation(plan)
        assert len(_general_keys()) == 2


def test_after_a_completed_rotation_the_next_run_makes_a_new_key(app, seeded):
    with app.app_context():
        operations.rotate(batch_size=BATCH)
        second = operations.rotate(batch_size=BATCH)
        assert len(_general_keys()) == 3
        assert set(_key_ids_in_use()) == {second.general_key_id}
        _all_read(seeded)


def test_a_value_written_during_rotation_is_not_overwritten(app, seeded, monkeypatch):
    """The update is compare-and-swap: a row edited between read and write is left alone."""
    with app.app_context():
        victim = next(iter(seeded))
        real = operations._untouched_columns

        def edit_first(table):  # type: ignore[no-untyped-def]
            if not getattr(edit_first, "done", False):
                edit_first.done = True  # type: ignore[attr-defined]
                user = db.session.get(User, victim)
                user.totp_secret = "EDITEDMEANWHILE234567ABCDEFGHIJK"
                db.session.flush()
            return real(table)

        plan = operations.begin_rotation()
        monkeypatch.setattr(operations, "_untouched_columns", edit_first)
        operations.run_rotation(plan, batch_size=BATCH)
        db.session.expire_all()
        assert db.session.get(User, victim).totp_secret == "EDITEDMEANWHILE234567ABCDEFGHIJK"
        assert set(_key_ids_in_use()) == {plan.general_key_id}


def test_each_batch_is_written_by_one_executemany_of_the_compare_and_swap_update(app, seeded):
    """The batched path rotates everything, one UPDATE round per batch, never row by row."""
    with app.app_context():
        updates: list[tuple[bool, int, str]] = []

        def watch(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("UPDATE USERS"):
                updates.append((executemany, len(parameters) if executemany else 1, statement))

        plan = operations.begin_rotation()
        event.listen(db.engine, "before_cursor_execute", watch)
        try:
            result = operations.run_rotation(plan, batch_size=BATCH)
        finally:
            event.remove(db.engine, "before_cursor_execute", watch)
        assert result.reencrypted == SEEDED and result.changed_meanwhile == 0
        assert result.batches == -(-SEEDED // BATCH)
        assert [(many, count) for many, count, _sql in updates] == [
            (True, min(BATCH, SEEDED - start)) for start in range(0, SEEDED, BATCH)]
        # still compare-and-swap: the old ciphertext is part of every WHERE
        assert all("totp_secret_enc =" in sql.split("WHERE", 1)[1] for _m, _c, sql in updates)
        assert set(_key_ids_in_use()) == {plan.general_key_id}
        _all_read(seeded)
        assert operations.count_pending_values() == 0


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite: the batch's BEGIN IMMEDIATE holds the write "
                    "lock from its read on, so no other transaction can write in between")
def test_a_value_changed_by_another_transaction_between_read_and_batched_write_is_kept(
        app, seeded, monkeypatch):
    """Another connection commits an edit after the batch was read and before it is written:
    the batched UPDATE matches one row fewer, the batch is redone row by row, and only that
    value is left as the other transaction wrote it; the rest of the batch is rotated."""
    with app.app_context():
        real = operations._write_batch
        edited: list[uuid.UUID] = []

        def edit_then_write(table, pending):  # type: ignore[no-untyped-def]
            if not edited:
                victim = pending[len(pending) // 2][0]
                with Session(db.engine) as other:
                    other.get(User, victim).totp_secret = "EDITEDELSEWHERE234567ABCDEFGHIJK"
                    other.commit()
                edited.append(victim)
            return real(table, pending)

        plan = operations.begin_rotation()
        monkeypatch.setattr(operations, "_write_batch", edit_then_write)
        result = operations.run_rotation(plan, batch_size=BATCH)
        assert result.changed_meanwhile == 1
        assert result.reencrypted == SEEDED - 1
        db.session.expire_all()
        victim = edited[0]
        assert db.session.get(User, victim).totp_secret == "EDITEDELSEWHERE234567ABCDEFGHIJK"
        assert set(_key_ids_in_use()) == {plan.general_key_id}
        _all_read({user_id: seed for user_id, seed in seeded.items() if user_id != victim})
        assert operations.count_pending_values() == 0


def test_a_value_of_the_batch_edited_before_its_batched_write_is_kept(app, seeded, monkeypatch):
    """Runs on SQLite too: the edit (same session, flushed) hits a row the batch has read,
    always, unlike an edit of whichever row comes first; the batched write must skip it."""
    with app.app_context():
        real = operations._write_batch
        edited: list[uuid.UUID] = []

        def edit_then_write(table, pending):  # type: ignore[no-untyped-def]
            if not edited:
                victim = pending[-1][0]
                db.session.get(User, victim).totp_secret = "EDITEDMEANWHILE234567ABCDEFGHIJK"
                db.session.flush()
                edited.append(victim)
            return real(table, pending)

        plan = operations.begin_rotation()
        monkeypatch.setattr(operations, "_write_batch", edit_then_write)
        result = operations.run_rotation(plan, batch_size=BATCH)
        assert (result.changed_meanwhile, result.reencrypted) == (1, SEEDED - 1)
        db.session.expire_all()
        assert db.session.get(User, edited[0]).totp_secret == "EDITEDMEANWHILE234567ABCDEFGHIJK"
        assert set(_key_ids_in_use()) == {plan.general_key_id}
        _all_read({user_id: seed for user_id, seed in seeded.items() if user_id != edited[0]})


def test_rotate_cli_reports_progress_and_continues_a_killed_run(app, seeded, runner):
    with app.app_context():
        with pytest.raises(Killed):
            operations.rotate(batch_size=BATCH, progress=_kill_after(1))
        db.session.rollback()
        new_key = runtime.general_key_id()
    result = runner.invoke(main, ["keys", "rotate", "--batch-size", str(BATCH)])
    assert result.exit_code == 0, result.output
    assert f"Continuing the pending rotation to general key {new_key}" in result.output
    assert f"Re-encrypted {SEEDED - BATCH} values" in result.output
    result = runner.invoke(main, ["keys", "rotate", "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    assert "New active general key" in result.output
    with app.app_context():
        assert len(_general_keys()) == 3
        _all_read(seeded)


# -- per-person keys ------------------------------------------------------------------------------
@pytest.fixture
def witness_model(app) -> Iterator[type]:
    """A person-like table with a per-row key, registered only for the length of one test."""
    before = list(field_registry._DECLARED)

    class WitnessBase(DeclarativeBase):
        metadata = MetaData()

    class Witness(WitnessBase):
        __tablename__ = f"test_witness_{uuid.uuid4().hex[:8]}"
        id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
        version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
        data_key_id: Mapped[int | None] = mapped_column(Integer)
        full_name = encrypted(key_attr="data_key_id", blind_index="person_name")
        remarks = encrypted()
        __mapper_args__ = {"version_id_col": version}

    with app.app_context():
        WitnessBase.metadata.create_all(db.engine)
    yield Witness
    field_registry._DECLARED[:] = before
    with app.app_context():
        db.session.remove()
        WitnessBase.metadata.drop_all(db.engine)


def _make_witnesses(app, model: type, count: int) -> dict[uuid.UUID, tuple[str, str]]:
    made = {}
    with app.app_context():
        for number in range(count):
            witness = model(id=uuid.uuid4())
            witness.full_name = f"Witness Number {number}"
            witness.remarks = f"remark {number}"
            db.session.add(witness)
            made[witness.id] = (witness.full_name, witness.remarks)
        db.session.commit()
    return made


def test_person_keys_are_replaced_and_the_old_ones_destroyed(app, witness_model, seeded):
    witnesses = _make_witnesses(app, witness_model, 10)
    with app.app_context():
        rows = db.session.execute(select(witness_model)).scalars().all()
        old_keys = {row.id: row.data_key_id for row in rows}
        indexes = {row.id: row.full_name_bidx for row in rows}
        result = operations.rotate(batch_size=3, person_keys=True)
        assert result.person_keys_replaced == 10 and result.person_rows == 10
        db.session.expire_all()
        for row in db.session.execute(select(witness_model)).scalars():
            assert row.data_key_id != old_keys[row.id]
            assert FieldCipher.key_id_of(bytes(row.full_name_enc)) == row.data_key_id
            assert FieldCipher.key_id_of(bytes(row.remarks_enc)) == result.general_key_id
            assert (row.full_name, row.remarks) == witnesses[row.id]
            assert row.full_name_bidx == indexes[row.id]  # blind indexes are untouched
            assert row.version == 2  # a request holding the old row fails instead of clobbering
            old = db.session.get(DataKey, old_keys[row.id])
            assert old.destroyed and old.wrapped is None
        _all_read(seeded)


def test_a_killed_person_key_rotation_resumes_where_it_stopped(app, witness_model, seeded):
    witnesses = _make_witnesses(app, witness_model, 10)
    with app.app_context():
        general_batches = -(-SEEDED // BATCH) + -(-10 // BATCH)  # users, then witness remarks
        with pytest.raises(Killed):
            operations.rotate(batch_size=BATCH, person_keys=True,
                              progress=_kill_after(general_batches + 1))
        db.session.rollback()
        live = db.session.execute(select(DataKey).where(
            DataKey.purpose == PURPOSE_PERSON, DataKey.destroyed.is_(False))).scalars().all()
        assert len(live) == 10  # 7 replaced (old destroyed, new live) + 3 not yet
        db.session.expire_all()
        for row in db.session.execute(select(witness_model)).scalars():
            assert (row.full_name, row.remarks) == witnesses[row.id]

        plan = operations.begin_rotation()  # no flag: the unfinished run's choice is kept
        assert not plan.created_key and plan.pending_person_keys == 3
        result = operations.run_rotation(plan, batch_size=BATCH)
        assert result.person_keys_replaced == 3
        destroyed = db.session.execute(select(DataKey).where(
            DataKey.purpose == PURPOSE_PERSON, DataKey.destroyed.is_(True))).scalars().all()
        assert len(destroyed) == 10
        assert len(_general_keys()) == 2
        db.session.expire_all()
        for row in db.session.execute(select(witness_model)).scalars():
            assert (row.full_name, row.remarks) == witnesses[row.id]


def test_status_counts_values_by_key_kind(app, witness_model, seeded, runner):
    _make_witnesses(app, witness_model, 4)
    with app.app_context():
        with pytest.raises(Killed):
            operations.rotate(batch_size=BATCH, progress=_kill_after(1))
        db.session.rollback()
        report = operations.key_status()
    assert report.master_problem is None and report.master_key_id
    assert report.pending == SEEDED + 4 - BATCH  # users' seeds and witness remarks
    by_label = {entry.label: entry for entry in report.fields}
    witness_table = witness_model.__tablename__
    assert by_label[f"{witness_table}.full_name"].other == 4
    assert by_label["users.totp_secret"].total == SEEDED
    assert report.unfinished is not None
    result = runner.invoke(main, ["keys", "status"])
    assert result.exit_code == 0, result.output
    assert f"Master key: {report.master_key_id}" in result.output
    assert "did not finish" in result.output
    assert f"{witness_table}: 8" in result.output
    assert not any(seed in result.output for seed in seeded.values())
