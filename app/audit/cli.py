"""`amanat audit`: make and export signed checkpoints, verify the log, print the verifier key.

Thin wrappers over app/audit/checkpoints.py and app/audit/verify.py. `verify` exits 0 only when
every check held, 1 otherwise, so cron and monitoring can act on it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from app.audit.checkpoints import AuditKeyError, LogIntegrityError, make_checkpoint, signing_key
from app.audit.verify import VerifyReport, run_verification
from app.extensions import db

CHECKPOINT_SUFFIX = ".checkpoint"


@click.group("audit", help="The tamper-evident audit log: checkpoints and verification.")
def audit_group() -> None:
    """Commands for the audit log."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _export_path(target: Path, size: int) -> Path:
    if target.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return target / f"amanat-audit-{stamp}-{size}{CHECKPOINT_SUFFIX}"
    return target


@audit_group.command("checkpoint")
@click.option("--export", "export", type=click.Path(path_type=Path),
              help="Also write the signed checkpoint to this file, or to a new file in this "
                   "directory (e.g. a USB stick), to keep a copy off the server.")
@with_appcontext
def checkpoint_command(export: Path | None) -> None:
    """Sign a checkpoint of the log now (if it grew) and print it with the verifier key."""
    try:
        row = make_checkpoint()
        db.session.commit()
        key = signing_key()
    except (AuditKeyError, LogIntegrityError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(row.signed_text, nl=False)
    click.echo("")
    click.echo(f"Verifier key: {key.verifier_key}")
    if export is not None:
        path = _export_path(export, row.size)
        try:
            path.write_text(row.signed_text, encoding="utf-8")
        except OSError as error:
            raise click.ClickException(f"Could not write {path}: {error}") from None
        click.echo(f"Checkpoint at size {row.size} written to {path}.")


@audit_group.command("vkey")
@with_appcontext
def vkey_command() -> None:
    """Print the verifier key that recipients use to check checkpoints (creates the key)."""
    try:
        click.echo(signing_key().verifier_key)
    except AuditKeyError as error:
        raise click.ClickException(str(error)) from None


def _read_against(paths: tuple[Path, ...]) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for path in paths:
        files = (sorted(p for p in path.iterdir() if p.name.endswith(CHECKPOINT_SUFFIX))
                 if path.is_dir() else [path])
        if path.is_dir() and not files:
            raise click.ClickException(f"No *{CHECKPOINT_SUFFIX} files in {path}.")
        for file in files:
            try:
                texts.append((str(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as error:
                raise click.ClickException(f"Could not read {file}: {error}") from None
    return texts


_SECTIONS = (
    ("entries", ("hash_mismatch", "unreadable"), "every entry matches its stored leaf hash"),
    ("seqs", ("gap", "bad_seq"), "seqs run from 1 without gaps"),
    ("stored checkpoints", ("checkpoint_signature", "checkpoint_columns",
                            "checkpoint_unverified", "checkpoint_mismatch",
                            "checkpoint_beyond_log"), None),
    ("exported checkpoints", ("bad_verifier_key", "against_signature", "against_unverified",
                              "against_mismatch", "against_beyond_log", "against_proof"), None),
)


def _print_report(report: VerifyReport, show_proof: bool) -> None:
    click.echo(f"Audit log: {report.entries} entries, root {_b64(report.root)} "
               f"(checked in {report.seconds:.1f} s)")
    if report.verifier_key:
        click.echo(f"Verifier key: {report.verifier_key}")
    for title, kinds, fine in _SECTIONS:
        problems = [p for p in report.problems if p.kind in kinds]
        if title == "stored checkpoints":
            fine = f"{report.checkpoints_checked} signed and matching the log"
        if title == "exported checkpoints":
            if not report.against:
                continue
            fine = f"{len(report.against)} signed and consistent with the log"
        if not problems:
            click.echo(f"  OK    {title}: {fine}")
            continue
        click.echo(f"  FAIL  {title}:")
        for problem in problems:
            click.echo(f"          {problem.message}")
    for result in report.against:
        if result.consistent and result.checkpoint is not None:
            click.echo(f"  OK    {result.label}: size {result.checkpoint.size} is a prefix of the "
                       f"log (consistency proof to size {result.proof_size}, "
                       f"{len(result.proof)} hashes, verified)")
            if show_proof:
                for node in result.proof:
                    click.echo(f"          {_b64(node)}")
    if report.ok:
        click.echo("Verification PASSED.")
    else:
        first = report.problems[0]
        click.echo(f"Verification FAILED: {len(report.problems)} problem(s); first: "
                   f"{first.message}")


@audit_group.command("verify")
@click.option("--against", "against", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="A checkpoint exported earlier (or a directory of *.checkpoint files); the log "
                   "must still be consistent with it. Repeatable.")
@click.option("--vkey", help="Trust this verifier key instead of the one on the server "
                             "(use the copy you keep elsewhere).")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes that recompute hashes; 0 = one per core (up to 4).")
@click.option("--show-proof", is_flag=True, help="Print the consistency proofs' hashes.")
@click.option("--no-record", is_flag=True,
              help="Write nothing: no audit.verify entry and no new checkpoint.")
@with_appcontext
def verify_command(against: tuple[Path, ...], vkey: str | None, workers: int, show_proof: bool,
                   no_record: bool) -> None:
    """Recompute every entry and check seqs, checkpoints and exported checkpoints.

    Exits 0 when everything holds and 1 when anything failed.
    """
    texts = _read_against(against)
    report = run_verification(None, "cli", against=texts, vkey=vkey, workers=workers,
                              write=not no_record)
    if no_record:
        db.session.rollback()
    else:
        db.session.commit()
    _print_report(report, show_proof)
    if not report.ok:
        raise SystemExit(1)


def register(app: Flask) -> None:
    """Attach `amanat audit ...` to the app's command group."""
    app.cli.add_command(audit_group)
