"""``flask platform ...``: platform admins (create, list, set a password, disable, enable, reset
their two-factor sign-in); and
``flask tenants set-plan``, a platform action (audited like the console's) on the engine's group."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from tenants.cli import tenants_cli
from tenants.db import db
from tenants.models import TENANT_PLANS


def _services():
    """The platform's services, imported on first use: the tenant commands other than
    ``set-plan`` (``tenants --help``, ``create``, ``list``) never need them, nor the accounts'
    services behind them (docs/design/performance.md, "CLI startup")."""
    from app.platform import services

    return services


def _fail(exc) -> None:
    db.session.rollback()
    for field, message in exc.errors.items():
        label = "" if field == _services().FORM else f"{field}: "
        click.secho(f"Error: {label}{message}", fg="red", err=True)
    sys.exit(1)


def _apply(change, *args):
    """Run the service ``change(*args)`` and commit; a refusal is printed and exits 1."""
    try:
        admin = change(*args)
    except _services().PlatformError as exc:
        _fail(exc)
    db.session.commit()
    return admin


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group("platform", help="Platform admins: the people who run Gigforge (the /platform console).")
def platform_cli():
    pass


@platform_cli.command("create-admin")
@click.option("--email", required=True, help="Login email of the new platform admin.")
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def create_admin(email, display_name, password_stdin):
    """Add a platform admin (prompts for the password unless --password-stdin)."""
    password = _read_password(password_stdin)
    admin = _apply(_services().create_platform_admin, email, display_name, password)
    click.echo(f"Created platform admin {admin.email} (id {admin.id})")


@platform_cli.command("list-admins")
@with_appcontext
def list_admins():
    """List platform admins with status and last login."""
    admins = _services().list_platform_admins()
    click.echo(f"{'id':<5} {'email':<40} {'status':<9} {'last login':<20} name")
    for admin in admins:
        last = admin.last_login_at.strftime("%Y-%m-%d %H:%M") if admin.last_login_at else "never"
        click.echo(f"{admin.id:<5} {admin.email:<40} {admin.status:<9} {last:<20} {admin.display_name}")
    click.echo(f"{len(admins)} platform admin(s)")


@platform_cli.command("set-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_appcontext
def set_password(email, password_stdin):
    """Give a platform admin a new password (their open sessions end)."""
    password = _read_password(password_stdin)
    admin = _apply(_services().set_platform_admin_password, email, password)
    click.echo(f"Password of {admin.email} changed; their other sessions have ended")


@platform_cli.command("disable-admin")
@click.option("--email", required=True)
@with_appcontext
def disable_admin(email):
    """Disable a platform admin: they cannot log in and their sessions end at once."""
    admin = _apply(_services().set_platform_admin_status, email, "disabled")
    click.echo(f"Disabled {admin.email}")


@platform_cli.command("enable-admin")
@click.option("--email", required=True)
@with_appcontext
def enable_admin(email):
    """Re-enable a disabled platform admin."""
    admin = _apply(_services().set_platform_admin_status, email, "active")
    click.echo(f"Enabled {admin.email}")


@platform_cli.command("reset-2fa")
@click.argument("email")
@with_appcontext
def reset_2fa(email):
    """Forget an admin's two-factor sign-in (lost phone and recovery codes): their sessions end
    and their next sign-in asks them to enrol again. Audited."""
    admin = _apply(_services().reset_two_factor, email)
    click.echo(f"Two-factor sign-in of {admin.email} is reset: they enrol again at their next sign-in")


@tenants_cli.command("set-plan")
@click.argument("slug")
@click.argument("plan", type=click.Choice(TENANT_PLANS))
@with_appcontext
def set_plan(slug, plan):
    """Put a tenant on a price plan (standard, growth, scale): its API rate limits."""
    services = _services()
    try:
        ref = services.set_tenant_plan(slug, plan, actor=None)
    except services.TenantNotFound:
        db.session.rollback()
        click.secho(f"Error: no tenant with slug {slug!r}", fg="red", err=True)
        sys.exit(1)
    except services.PlatformError as exc:
        _fail(exc)
    click.echo(f"{ref.slug} is on the {ref.plan} plan")
