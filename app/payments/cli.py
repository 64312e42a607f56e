"""``flask payments ...``: an operator's payment set-up of one tenant."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.payments import services
from tenants.db import db, tenant_context
from tenants.resolver import get_tenant_by_slug


@click.group("payments", help="Payment provider set-up of a marketplace.")
def payments_cli():
    pass


@payments_cli.command("configure-stripe")
@click.option("--tenant", "slug", required=True)
@click.option("--publishable-key", required=True)
@click.option(
    "--secret-key",
    prompt=True,
    hide_input=True,
    help="Prompted for when not given (kept off the shell history).",
)
@click.option("--webhook-secret", prompt=True, hide_input=True)
@with_appcontext
def configure_stripe_command(slug, publishable_key, secret_key, webhook_secret):
    """Store a tenant's Stripe keys (secrets encrypted) and switch it to Stripe.

    Point the tenant's Stripe webhook endpoint at https://<tenant host>/webhooks/stripe.
    """
    tenant = get_tenant_by_slug(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant with slug {slug!r}")
    with tenant_context(tenant):
        try:
            services.configure_stripe(publishable_key, secret_key, webhook_secret)
        except services.PaymentError as exc:
            raise click.ClickException("; ".join(f"{k} {v}" for k, v in exc.errors.items())) from exc
        db.session.commit()  # a CLI command is its own unit of work: no request or job commits it
    click.echo(f"{slug}: Stripe configured; webhook endpoint https://<{slug} host>/webhooks/stripe")
