"""The demo's "Continue with GitHub / Google": each demo marketplace gets a client of the local
provider (app/demo/oidc_provider.py, mounted on the platform host by ``make run``), so the login
page shows the buttons and they work at once.

The client id names the marketplace; its secret is derived from the id
(``oidc_provider.demo_client_secret``), which the local provider accepts for demo clients, so
the provider needs no list of the demo's tenants. Added once; a second run finds them.

Called by the demo seed with the tenant bound: ``seed_identity_providers(slug)``.
"""

from __future__ import annotations

from app.accounts import oauth
from app.demo.oidc_provider import DEMO_CLIENT_PREFIX, demo_client_secret


def demo_client_id(slug: str, provider: str) -> str:
    return f"{DEMO_CLIENT_PREFIX}{slug}-{provider}"


def seed_identity_providers(slug: str, providers: tuple[str, ...] = ("github", "google")) -> list[str]:
    """Configure the local provider's demo client of each of ``providers`` for the bound demo
    marketplace (unless the marketplace has one already); returns the providers configured now."""
    added = []
    for provider in providers:
        if oauth.provider_row(provider) is not None:
            continue
        client_id = demo_client_id(slug, provider)
        oauth.configure_provider(
            provider, client_id=client_id, client_secret=demo_client_secret(client_id), enabled=True
        )
        added.append(provider)
    return added
