"""The `amanat` command: Flask's run and db commands plus account administration."""

from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from app.extensions import db
from app.models.users import ROLE_VALUES, TokenPurpose, User
from app.services import ServiceError, accounts


def _create_app():  # type: ignore[no-untyped-def]
    from app import create_app
    from app.cli_keys import SKIP_KEY_CHECK
    from app.crypto.errors import CryptoError, KeyMissingError, WrongKeyError

    ctx = click.get_current_context(silent=True)
    info = ctx.find_object(ScriptInfo) if ctx is not None else None
    # `amanat keys ...` repairs the states the start-up check refuses, and checks for itself.
    overrides = {"CHECK_KEYS_AT_START": False} if info and info.data.get(SKIP_KEY_CHECK) else None
    try:
        return create_app(overrides)
    except CryptoError as error:
        hint = ""
        if isinstance(error, KeyMissingError | WrongKeyError):
            hint = ("\nTo install the key from a backup: amanat keys restore BACKUP_FILE"
                    "\n(see 'amanat keys status' and docs/security.md).")
        raise click.ClickException(f"Amanat cannot start: {error}{hint}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Amanat: case documentation for human-rights NGOs.")
def main() -> None:
    """Entry point of the `amanat` console script."""


def _user_or_exit(email: str) -> User:
    user = accounts.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account with email address {email}.")
    return user


def _commit_or_exit(action) -> None:  # type: ignore[no-untyped-def]
    try:
        action()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()


@click.command("create-user")
@click.option("--name", required=True, help="Full name shown to colleagues.")
@click.option("--email", required=True, help="Sign-in address.")
@click.option("--role", required=True, type=click.Choice(ROLE_VALUES), help="Role of the account.")
@with_appcontext
def create_user(name: str, email: str, role: str) -> None:
    """Create an account and print its one-time invitation link."""
    holder: dict[str, str] = {}

    def action() -> None:
        user = accounts.create_user(None, name=name, email=email, role=role)
        holder["token"] = accounts.issue_token(TokenPurpose.INVITE, user=user)

    _commit_or_exit(action)
    click.echo(f"Created {role} {email}. Invitation link (single use, "
               f"{current_app.config['INVITE_TOKEN_HOURS']} h):")
    click.echo(_link("invite", holder["token"]))


@click.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLE_VALUES))
@with_appcontext
def set_role(email: str, role: str) -> None:
    """Change the role of an account; its sessions end at once."""
    user = _user_or_exit(email)
    _commit_or_exit(lambda: accounts.set_role(None, user, role))
    click.echo(f"{email} is now {role}; existing sessions were ended.")


@click.command("deactivate-user")
@click.argument("email")
@with_appcontext
def deactivate_user(email: str) -> None:
    """Deactivate an account (never deleted); its sessions end at once."""
    user = _user_or_exit(email)
    _commit_or_exit(lambda: accounts.deactivate(None, user))
    click.echo(f"{email} is deactivated.")


@click.command("setup-link")
@click.option("--if-needed", is_flag=True, help="Print nothing when an administrator exists.")
@with_appcontext
def setup_link(if_needed: bool) -> None:
    """Print a one-time link that creates the first administrator."""
    if not accounts.setup_needed():
        if if_needed:
            return
        raise click.ClickException("An administrator already exists; setup links are disabled.")
    token = accounts.issue_token(TokenPurpose.SETUP)
    db.session.commit()
    hours = current_app.config["SETUP_TOKEN_HOURS"]
    click.echo("")
    click.echo("  No administrator exists yet. Open this one-time link to create one")
    click.echo(f"  (valid {hours} hours, single use):")
    click.echo("")
    click.echo(f"    {_link('setup', token)}")
    click.echo("")


@click.command("optimize")
@with_appcontext
def optimize() -> None:
    """Refresh the database's query-planner statistics (ANALYZE); run nightly and after imports."""
    from app.database import refresh_statistics

    started = time.monotonic()
    dialect = refresh_statistics()
    click.echo(f"Planner statistics refreshed ({dialect}) in {time.monotonic() - started:.1f} s.")


ACCOUNT_COMMANDS = (create_user, set_role, deactivate_user, setup_link, optimize)


def register_commands(app) -> None:  # type: ignore[no-untyped-def]
    """Attach Amanat's commands to app.cli, so `amanat` and the test runner both see them."""
    from app.bundle.cli import BUNDLE_COMMANDS

    for command in ACCOUNT_COMMANDS + BUNDLE_COMMANDS:
        app.cli.add_command(command)
    _register_audit_commands(app)


def _register_audit_commands(app) -> None:  # type: ignore[no-untyped-def]
    from app.audit.cli import register

    register(app)


def _link(kind: str, token: str) -> str:
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/{kind}/{token}"


from app.backup.cli import backup_group, restore_command  # noqa: E402
from app.cli_keys import keys_group  # noqa: E402 - registered after main is defined

main.add_command(keys_group)
main.add_command(backup_group)
main.add_command(restore_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
