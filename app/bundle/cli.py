"""`amanat import`, `amanat export`, `amanat import-csv` and `amanat seed-demo`: thin wrappers
over app.bundle; registered on app.cli by app.cli.register_commands."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.bundle import csv_import, demo, exporter
from app.bundle.importer import ImportSummary, import_bundle
from app.bundle.validate import BundleInvalid, parse
from app.cases.queries import CaseFilters
from app.crypto import sealed
from app.crypto.errors import WrongKeyError
from app.crypto.private_files import replace_private
from app.domain.vocab import CASE_STATUS
from app.extensions import db
from app.models.users import User
from app.services import ServiceError, accounts

AS_HELP = "Email of the caseworker or supervisor acting (audited as them)."


def _actor(email: str) -> User:
    user = accounts.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account with email address {email}.")
    if not user.active or user.role not in ("caseworker", "supervisor"):
        raise click.ClickException(
            f"{email} is a{'n' if user.role[0] in 'aeiou' else ''} {user.role}"
            f"{'' if user.active else ' (deactivated)'}: only active caseworkers and supervisors "
            "import or export cases.")
    return user


def _read(path: str) -> bytes:
    file = Path(path)
    limit = current_app.config.get("BUNDLE_MAX_BYTES")
    try:
        size = file.stat().st_size
    except OSError as error:
        raise click.ClickException(f"Cannot read {path}: {error.strerror}.") from None
    if limit and size > int(limit):
        raise click.ClickException(f"{path} is {size:,} bytes; bundles are limited to "
                                   f"{int(limit):,} bytes (BUNDLE_MAX_BYTES).")
    return file.read_bytes()


def _passphrase(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").rstrip("\r\n")


def _report_issues(error: BundleInvalid) -> None:
    click.echo(f"Refused: {len(error.issues)} problem(s); nothing was imported.", err=True)
    for issue in error.issues:
        click.echo(f"  {issue}", err=True)


def _report_summary(summary: ImportSummary) -> None:
    counts = ", ".join(f"{n} {k.replace('_', '-')}" for k, n in summary.as_dict().items() if n)
    if summary.dry_run:
        click.echo(f"Dry run: the bundle is valid and would create {counts}. Nothing was written.")
        return
    click.echo(f"Imported {counts}.")
    for local, reference, _case_id in summary.cases:
        click.echo(f"  {local} -> {reference}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help=AS_HELP)
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Passphrase of a bundle sealed by `amanat export --passphrase-file`.")
@with_appcontext
def import_command(file: str, dry_run: bool, as_email: str, passphrase_file: str | None) -> None:
    """Import a bundle FILE (docs/bundle-format.md): all of it, or nothing."""
    actor = _actor(as_email)
    try:
        value = parse(_read(file))
        if sealed.is_sealed(value):
            if not passphrase_file:
                raise click.ClickException("This bundle is sealed: give --passphrase-file.")
            try:
                value = parse(sealed.unseal(value, _passphrase(passphrase_file),
                                            content="amanat-bundle"))
            except (WrongKeyError, ValueError) as error:
                raise click.ClickException(str(error)) from None
        summary = import_bundle(actor, value, dry_run=dry_run)
    except BundleInvalid as error:
        _report_issues(error)
        raise SystemExit(1) from None
    _report_summary(summary)


EXPORT_FORMATS = ("bundle", "deidentified-csv", "huridocs", "wgeid")


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="bundle",
              show_default=True, help="bundle (docs/bundle-format.md), deidentified-csv "
              "(analysts; docs/deidentification.md), huridocs (ESF codes) or wgeid (draft "
              "submissions for the disappearances of --case).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (mode 0600) instead of standard output.")
@click.option("--all", "everything", is_flag=True, help="Every case you may see.")
@click.option("--case", "references", multiple=True, metavar="REF",
              help="A case reference, e.g. AM-2025-0042 (repeatable).")
@click.option("--status", type=click.Choice(CASE_STATUS), help="Only cases with this status.")
@click.option("--district", metavar="CODE", help="Only cases with an act in this district.")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help=AS_HELP)
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False),
              help="Seal the export under the passphrase in this file (AES-256-GCM, scrypt) "
              "for transfer; `amanat import --passphrase-file` opens it.")
@with_appcontext
def export_command(fmt: str, output: str | None, everything: bool, references: tuple[str, ...],
                   status: str | None, district: str | None, as_email: str,
                   passphrase_file: str | None) -> None:
    """Export what the --as user may see, in one of Amanat's formats; every export is audited."""
    if fmt == "deidentified-csv":
        if references or status:
            raise click.UsageError("deidentified-csv takes --all or --district only.")
        text, summary = _export_deidentified(as_email, district)
    else:
        actor = _actor(as_email)
        if sum([everything, bool(references), bool(status or district)]) != 1:
            raise click.UsageError("Choose one of --all, --case REF ..., or --status/--district.")
        if fmt == "wgeid" and not references:
            raise click.UsageError("wgeid drafts are made per case: give --case REF.")
        try:
            chosen = exporter.select_cases(
                actor, references=references, everything=everything,
                filters=CaseFilters(status=status, district=district) if status or district
                else None)
            text, summary = _EXPORTERS[fmt](actor, chosen)
        except ServiceError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from None
    if passphrase_file:
        try:
            text = sealed.seal(text.encode("utf-8"), _passphrase(passphrase_file),
                               content=f"amanat-{fmt}")
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        summary += " Sealed under the passphrase."
    if output:
        replace_private(Path(output), text.encode("utf-8"))
    db.session.commit()  # the audit entry is kept only once the data is out
    if not output:
        click.echo(text, nl=False)
    click.echo(summary + (f" Written to {output}." if output else ""), err=True)


def _export_bundle(actor: User, chosen: list) -> tuple[str, str]:
    result = exporter.export_bundle(actor, chosen, channel="cli")
    summary = f"Exported {len(result.case_ids)} case(s)."
    if result.skipped_evidence_links:
        summary += (f" Note: {result.skipped_evidence_links} link(s) to evidence files were left "
                    "out; evidence files do not travel in bundle version 1.")
    return result.to_json(), summary


def _export_huridocs(actor: User, chosen: list) -> tuple[str, str]:
    from app.exports.huridocs import export_huridocs

    data = export_huridocs(actor, [c.id for c in chosen], output="cli")
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n", (
        f"Exported {len(chosen)} case(s) in HURIDOCS ESF form.")


def _export_wgeid(actor: User, chosen: list) -> tuple[str, str]:
    from app.domain.vocab import DISAPPEARANCE_ACTS
    from app.exports.wgeid import wgeid_draft
    from app.models.acts import Act

    drafts = []
    for case in chosen:
        acts = db.session.execute(select(Act).where(
            Act.case_id == case.id, Act.act_type.in_(DISAPPEARANCE_ACTS))).scalars().all()
        drafts += [wgeid_draft(actor, case, act, output="cli").render_text() for act in acts]
    if not drafts:
        raise ServiceError("These cases record no disappearance or abduction.")
    return "\n\n".join(drafts), f"Wrote {len(drafts)} WGEID draft(s)."


def _export_deidentified(as_email: str, district: str | None) -> tuple[str, str]:
    from app.analysis.deidentify import deidentified_rows, rows_to_csv
    from app.analysis.scope import AnalysisFilters

    actor = accounts.find_user_by_email(as_email)
    if actor is None or not actor.active:
        raise click.ClickException(f"No active account with email address {as_email}.")
    try:
        rows = deidentified_rows(actor, AnalysisFilters(district=district))
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    return rows_to_csv(rows), f"Exported {len(rows)} de-identified row(s)."


_EXPORTERS = {"bundle": _export_bundle, "huridocs": _export_huridocs, "wgeid": _export_wgeid}


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column:
            raise click.UsageError(f"--map takes COLUMN=FIELD, not {pair!r}.")
        if target not in csv_import.TARGETS:
            raise click.UsageError(f"Unknown field {target!r} in --map {pair!r}; choose one of "
                                   f"{', '.join(csv_import.TARGETS)}.")
        mapping[column] = target
    return mapping


@click.command("import-csv")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--map", "pairs", multiple=True, metavar="COLUMN=FIELD",
              help=f"Map a CSV column to a field ({', '.join(csv_import.TARGETS)}). "
                   "Unmapped columns are ignored.")
@click.option("--status", type=click.Choice(("draft", "open")), default="open", show_default=True,
              help="Status of the cases created.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--as", "as_email", required=True, metavar="EMAIL", help=AS_HELP)
@with_appcontext
def import_csv_command(file: str, pairs: tuple[str, ...], status: str, dry_run: bool,
                       as_email: str) -> None:
    """Import a CSV list of missing persons: one case per row, all rows or none."""
    actor = _actor(as_email)
    try:
        table = csv_import.read_csv(_read(file))
        result = csv_import.import_rows(actor, table, _mapping(pairs), status=status,
                                        dry_run=dry_run)
    except csv_import.CsvInvalid as error:
        click.echo(f"Refused: {len(error.problems)} problem(s); nothing was imported.", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1) from None
    ignored = [c for c in table.header if csv_import.target_of(c, _mapping(pairs)) == "ignore"]
    if ignored:
        click.echo(f"Ignored columns: {', '.join(ignored)}", err=True)
    _report_summary(result)


@click.command("seed-demo")
@click.option("--cases", "count", default=40, show_default=True, type=click.IntRange(1, 500),
              help="How many fictional cases.")
@click.option("--force", is_flag=True, help="Run even though the database already holds cases.")
@click.option("--seed", default=1971, show_default=True, help="Random seed (same seed, same data).")
@with_appcontext
def seed_demo_command(count: int, force: bool, seed: int) -> None:
    """Fill an installation with a realistic, entirely fictional dataset for training and demos."""
    try:
        outcome = demo.seed(count=count, force=force, seed=seed)
    except demo.NotEmpty as error:
        raise click.ClickException(str(error)) from None
    except (ServiceError, BundleInvalid) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    click.echo(f"Created {outcome.cases} fictional cases. Demo accounts (set a password and "
               f"two-factor authentication through the one-time link, valid "
               f"{current_app.config['INVITE_TOKEN_HOURS']} h):")
    for user, token in outcome.invitations:
        click.echo(f"  {user.role:<11} {user.email:<40} team {user.teams[0].name if user.teams else '-'}")
        click.echo(f"              {base}/invite/{token}")


BUNDLE_COMMANDS = (import_command, export_command, import_csv_command, seed_demo_command)
