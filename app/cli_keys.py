"""`amanat keys`: key status, data-key rotation, master-key rotation, backup and restore.

Thin wrappers over app/crypto/operations.py: they read options and passphrases, print, and turn
CryptoError into a one-line message. The master key and data keys are never printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask.cli import ScriptInfo, with_appcontext

from app.crypto import operations
from app.crypto.backup import MIN_PASSPHRASE_CHARS
from app.crypto.errors import CryptoError
from app.extensions import db

# Set by the group on the ScriptInfo; app.cli._create_app then skips the start-up key check,
# because these commands exist to diagnose and repair exactly the states it refuses.
SKIP_KEY_CHECK = "amanat.skip_key_check"


@click.group("keys", help="Encryption keys: status, rotation, backup and restore.")
@click.pass_context
def keys_group(ctx: click.Context) -> None:
    ctx.ensure_object(ScriptInfo).data[SKIP_KEY_CHECK] = True


@contextmanager
def _operator_errors() -> Iterator[None]:
    """Roll back and show a CryptoError (or a refused input) as a message, not a traceback."""
    try:
        yield
    except (CryptoError, ValueError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


def _read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        lines = passphrase_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return str(click.prompt(f"Backup passphrase (at least {MIN_PASSPHRASE_CHARS} characters)",
                            hide_input=True, confirmation_prompt=confirm))


_passphrase_option: Callable[[Any], Any] = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the passphrase from the first line of this file instead of asking.")


@keys_group.command("status")
@with_appcontext
def status() -> None:
    """Show the master key id, data keys by purpose and how many values await rotation."""
    with _operator_errors():
        report = operations.key_status()
    click.echo(f"Master key: {report.master_key_id or 'not available'} ({report.provider})")
    if report.master_problem:
        click.echo(f"  PROBLEM: {report.master_problem}")
    else:
        click.echo("  It opens this database's data keys.")
    click.echo("Data keys:")
    if not report.keys:
        click.echo("  none yet")
    for counts in report.keys:
        click.echo(f"  {counts.purpose:<12} {counts.active} active, {counts.retired} retired, "
                   f"{counts.destroyed} destroyed")
    click.echo(f"Active general key: {report.active_general_key or 'none'}")
    if report.unfinished is not None:
        click.echo(f"Rotation: a run started {report.unfinished.started_at:%Y-%m-%d %H:%M} UTC "
                   "did not finish; run 'amanat keys rotate' to complete it.")
    if report.pending:
        click.echo(f"Rotation pending: {report.pending} values are under retired general keys; "
                   "run 'amanat keys rotate' to finish.")
    else:
        click.echo("Rotation pending: none")
    click.echo("Encrypted values:")
    for table, total in sorted(report.tables.items()):
        click.echo(f"  {table}: {total}")
    for entry in report.fields:
        line = (f"    {entry.label}: {entry.total} ({entry.active_general} active general key, "
                f"{entry.retired_general} retired general keys")
        if entry.per_row_keys or entry.other:
            line += f", {entry.other} per-person keys"
        if entry.under_destroyed_key:
            line += f", {entry.under_destroyed_key} shredded"
        click.echo(line + ")")


@keys_group.command("rotate")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Values per committed transaction.")
@click.option("--person-keys", is_flag=True,
              help="Also give every person a new key and destroy the old one.")
@click.option("--new-key", is_flag=True,
              help="Make a new general key even though a rotation is still pending.")
@with_appcontext
def rotate(batch_size: int, person_keys: bool, new_key: bool) -> None:
    """Re-encrypt values under a new general key, in batches; safe to stop and run again.

    A new key is made only when no rotation is pending; otherwise the pending one continues.
    """
    with _operator_errors():
        plan = operations.begin_rotation(person_keys=person_keys, new_key=new_key)
    if plan.created_key:
        click.echo(f"New active general key {plan.general_key_id}.")
    else:
        click.echo(f"Continuing the pending rotation to general key {plan.general_key_id} "
                   "(no new key made).")
    click.echo(f"{plan.pending_values} values to re-encrypt"
               + (f", {plan.pending_person_keys} person keys to replace." if
                  plan.person_keys_before else "."))
    total = plan.pending_values + plan.pending_person_keys
    with _operator_errors(), click.progressbar(length=total, label="Rotating") as bar:
        result = operations.run_rotation(plan, batch_size=batch_size, progress=bar.update)
    click.echo(f"Re-encrypted {result.reencrypted} values in {result.batches} batches.")
    if plan.person_keys_before:
        click.echo(f"Replaced {result.person_keys_replaced} person keys "
                   f"({result.person_rows} rows); the old keys are destroyed.")
    if result.changed_meanwhile:
        click.echo(f"{result.changed_meanwhile} rows changed while rotating and were left as "
                   "they are; run 'amanat keys rotate' again to pick them up.")
    if result.unreadable:
        click.echo(f"{len(result.unreadable)} values could not be decrypted and were left "
                   "untouched (damaged or altered):")
        for where in result.unreadable:
            click.echo(f"  {where}")
        raise SystemExit(1)


@keys_group.command("rotate-master")
@click.option("--backup-to", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="New file for a passphrase-protected backup of the new master key.")
@_passphrase_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def rotate_master(backup_to: Path, passphrase_file: Path | None, yes: bool) -> None:
    """Replace the master key: re-wraps every data key; no field or file is rewritten."""
    if not yes:
        click.confirm("Stop every other Amanat process (web workers, jobs) first. Continue?",
                      abort=True)
    passphrase = _read_passphrase(passphrase_file, confirm=True)
    with _operator_errors():
        outcome = operations.rotate_master(backup_to, passphrase)
    if outcome.resumed:
        click.echo("Finished an interrupted master-key rotation.")
    click.echo(f"Master key {outcome.old_master_key_id} replaced by {outcome.new_master_key_id}; "
               f"{outcome.rewrapped} data keys re-wrapped.")
    click.echo(f"Backup of the new key: {outcome.backup_path} (keep it offline, apart from "
               "the database backups). Old key backups no longer open this database.")


@keys_group.command("backup")
@click.option("-o", "--output", required=True,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="New file to write (mode 0600).")
@_passphrase_option
@with_appcontext
def backup(output: Path, passphrase_file: Path | None) -> None:
    """Export the master key, sealed under a passphrase, for offline safekeeping."""
    passphrase = _read_passphrase(passphrase_file, confirm=True)
    with _operator_errors():
        key_id = operations.export_backup(output, passphrase)
    click.echo(f"Master key {key_id} written to {output}, sealed under your passphrase.")
    click.echo("Keep the file and the passphrase apart; without both the data cannot be read.")


@keys_group.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_passphrase_option
@click.option("--force", is_flag=True,
              help="Replace an existing different key, or install a key that does not match.")
@with_appcontext
def restore(backup_file: Path, passphrase_file: Path | None, force: bool) -> None:
    """Install the master key from a backup made by 'amanat keys backup'."""
    passphrase = _read_passphrase(passphrase_file, confirm=False)
    with _operator_errors():
        outcome = operations.restore_backup(backup_file.read_text(encoding="utf-8"), passphrase,
                                            force=force)
    if outcome.already_in_place:
        click.echo(f"Master key {outcome.master_key_id} is already installed; nothing changed.")
    else:
        click.echo(f"Master key {outcome.master_key_id} restored.")
    if outcome.replaced_file is not None:
        click.echo(f"The previous key file was kept as {outcome.replaced_file}.")
    if outcome.matches is True:
        click.echo(f"It matches this database: {outcome.detail}")
    elif outcome.matches is False:
        click.echo(f"WARNING: it does NOT match this database: {outcome.detail}")
    else:
        click.echo(outcome.detail)
