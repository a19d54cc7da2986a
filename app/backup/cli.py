"""`amanat backup PATH`, `amanat backup verify PATH`, `amanat restore PATH`.

Registered on the top-level `amanat` group (like `amanat keys`), and all three skip create_app's
start-up key check: `restore` must run in a new installation that has no key file yet, and
`backup` / `verify` make their own, more specific checks (backup: the key opens the database;
verify and restore: the key opens the archive).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import ScriptInfo, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from app.backup.archive import BackupError
from app.cli_keys import SKIP_KEY_CHECK
from app.crypto.backup import MIN_PASSPHRASE_CHARS
from app.crypto.errors import CryptoError
from app.extensions import db

_passphrase_option: Callable[[Any], Any] = click.option(
    "--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the key passphrase from the first line of this file instead of asking.")


def _passphrase_reader(passphrase_file: Path | None, *, confirm: bool) -> Callable[[], str]:
    def read() -> str:
        if passphrase_file is not None:
            lines = passphrase_file.read_text(encoding="utf-8").splitlines()
            return lines[0] if lines else ""
        return str(click.prompt(f"Key passphrase (at least {MIN_PASSPHRASE_CHARS} characters)",
                                hide_input=True, confirmation_prompt=confirm))
    return read


def _fail(error: Exception) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(str(error))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


class _BackupGroup(click.Group):
    """`amanat backup PATH` runs `create`; `amanat backup verify PATH` runs `verify`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group("backup", cls=_BackupGroup,
             help="Back up this installation to one encrypted archive (amanat backup PATH), or "
                  "check an archive (amanat backup verify PATH). See docs/backup.md.")
@click.pass_context
def backup_group(ctx: click.Context) -> None:
    ctx.ensure_object(ScriptInfo).data[SKIP_KEY_CHECK] = True


@backup_group.command("create")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--include-keys", is_flag=True,
              help="Also carry the master key (sealed under a passphrase) and the audit signing "
                   "key, so the archive can be restored on a new server without a separate key "
                   "backup.")
@_passphrase_option
@with_appcontext
def create_command(path: Path, include_keys: bool, passphrase_file: Path | None) -> None:
    """Write one encrypted archive to PATH (a new file; or a new file inside directory PATH)."""
    from app.backup.backup import create_backup

    passphrase = (_passphrase_reader(passphrase_file, confirm=True)() if include_keys else None)
    try:
        result = create_backup(path, include_keys=include_keys, passphrase=passphrase)
    except (BackupError, CryptoError, ValueError) as error:
        raise _fail(error) from None
    except OSError as error:
        raise _fail(RuntimeError(f"The backup could not be written ({error.strerror or error}); "
                                 "nothing was left under its name.")) from None
    rows = sum(result.tables.values())
    click.echo(f"Backup written: {result.path} ({_mb(result.size)} in {result.seconds:.1f} s)")
    click.echo(f"  {len(result.tables)} tables, {rows} rows; {result.evidence_files} evidence "
               f"files ({_mb(result.evidence_bytes)}); schema revision {result.revision}")
    click.echo(f"  archive {result.archive_id}, master key {result.installation}")
    if include_keys:
        click.echo("  The master key is inside, sealed under your passphrase; the audit signing "
                   "key is inside, encrypted.")
    else:
        click.echo(f"  Only master key {result.installation} opens it: keep a key backup "
                   "('amanat keys backup') apart from the archives.")
    click.echo(f"Check it with: amanat backup verify {result.path}")


@backup_group.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_passphrase_option
@with_appcontext
def verify_command(path: Path, passphrase_file: Path | None) -> None:
    """Check an archive completely (MAC, every member's hash, manifest, counts); restore nothing.

    Exits 0 only when the whole archive is intact and readable with this installation's key
    (or the key sealed inside it).
    """
    from app.backup.restore import verify_backup

    try:
        result = verify_backup(path, _passphrase_reader(passphrase_file, confirm=False))
    except (BackupError, CryptoError, ValueError, OSError) as error:
        db.session.rollback()
        click.echo(f"Backup {path} FAILED verification: {error}", err=True)
        raise SystemExit(1) from None
    db.session.rollback()
    rows = sum(result.tables.values())
    click.echo(f"Backup {path}: OK")
    click.echo(f"  made {result.created_at[:19]} UTC by master key {result.installation}, "
               f"schema revision {result.revision}, archive {result.archive_id}")
    click.echo(f"  {result.members} members checked: {len(result.tables)} tables ({rows} rows), "
               f"{result.evidence_files} evidence files ({_mb(result.evidence_bytes)}); "
               f"keys {'included' if result.keys_included else 'not included'}")
    click.echo("  final MAC, every member's SHA-256 and size, manifest and row counts match.")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_passphrase_option
@click.pass_context
def restore_command(ctx: click.Context, path: Path, passphrase_file: Path | None) -> None:
    """Restore an archive into this EMPTY installation (run 'amanat db upgrade' first).

    All or nothing: one transaction for the rows; evidence files move into place only after it
    commits. Refuses a database that holds any user or case, an archive from a newer version,
    and an archive this installation's master key cannot open.
    """
    from app.backup.restore import restore_backup

    info = ctx.ensure_object(ScriptInfo)
    info.data[SKIP_KEY_CHECK] = True  # a new installation has no key file yet
    app = info.load_app()
    with app.app_context():
        try:
            result = restore_backup(path, _passphrase_reader(passphrase_file, confirm=False))
        except (BackupError, CryptoError, ValueError) as error:
            raise _fail(error) from None
        except SQLAlchemyError as error:
            cause = str(getattr(error, "orig", None) or error).splitlines()[0]
            raise _fail(RuntimeError(f"The database refused the restore, so nothing was "
                                     f"restored: {cause}")) from None
        if result.finished_interrupted:
            click.echo(f"Finished the interrupted restore of archive {result.archive_id}: "
                       f"{result.evidence_files} evidence files moved into place.")
            return
        rows = sum(result.tables.values())
        click.echo(f"Restored {path} in {result.seconds:.1f} s: {len(result.tables)} tables, "
                   f"{rows} rows, {result.evidence_files} evidence files "
                   f"({_mb(result.evidence_bytes)}).")
        if result.key_installed:
            click.echo(f"Master key {result.installation} installed from the archive.")
        if result.replaced_key_file is not None:
            click.echo(f"The key file that was in the way was kept as "
                       f"{result.replaced_key_file}.")
        if result.discarded_audit_entries:
            click.echo(f"{result.discarded_audit_entries} audit entries of the empty "
                       "installation were replaced by the archive's log.")
        for note in result.notes:
            click.echo(f"Note: {note}")
        click.echo("Next: 'amanat audit verify', then start the service. Everyone signs in "
                   "again (sessions are not backed up).")
