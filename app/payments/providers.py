"""Payment providers behind one interface, chosen per tenant.

``get_provider()`` returns the bound tenant's provider
(``MarketplaceSettings.payment_provider``). Providers talk to the outside
world only; they never touch the ledger or commit. Every call that creates
something at the provider takes a deterministic idempotency key
(``<tenant id>:<operation>:<object id>``) so a retried request or job gets the
same object back instead of paying twice.

Amounts are our minor units everywhere except in the Stripe requests and events, which
use Stripe's integer (``money.provider_amount`` / ``money.from_provider_amount``): the same
number for most currencies, x100 for HUF, TWD and ISK.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import stripe
from flask import current_app

from app.core import money
from app.core.crypto import decrypt_secret
from app.core.domain_errors import DomainError
from app.settings.models import MarketplaceSettings
from tenants.db import current_tenant, db


class ProviderError(DomainError):
    """The provider refused or could not be reached. ``transient``: worth retrying.

    A refusal like any other (HTTP 502, or 503 when transient) should one reach a view;
    the payments services turn it into a ``PaymentError`` with a message for people.
    """

    status = 502
    code = "provider_refused"

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(
            message, status=503 if transient else None, code="provider_unavailable" if transient else None
        )
        self.transient = transient


class ProviderNotConfigured(ProviderError):
    """The tenant chose a provider but has not stored its keys."""


class WebhookRejected(Exception):
    """A webhook whose signature, age or payload is not acceptable (HTTP 400)."""


@dataclass(frozen=True)
class PaymentSession:
    """What a buyer needs to pay: a page of ours to go to, and for Stripe a client secret."""

    payment_id: int
    status: str
    redirect_url: str
    client_secret: str | None = None
    provider_ref: str | None = None


@dataclass(frozen=True)
class ProviderRefund:
    provider_ref: str
    status: str  # pending / succeeded / failed


def idempotency_key(operation: str, object_id: int | str) -> str:
    """``<tenant id>:<operation>:<object id>``: unique across tenants, stable across retries."""
    return f"{current_tenant().id}:{operation}:{object_id}"


def transfer_group_for_order(order_id: int) -> str:
    return f"order_{current_tenant().id}_{order_id}"


def sandbox_payment_ref(order_id: int, milestone_id: int | None) -> str:
    """The sandbox's payment reference: one payment per order, or per milestone of an order
    worked milestone by milestone (the payments' unique indexes), so the owner names it.
    (Payments opened before this carry ``sandbox_pay_<payment id>``: no prefix letter.)"""
    return f"sandbox_pay_o{order_id}" if milestone_id is None else f"sandbox_pay_m{milestone_id}"


class PaymentProvider(abc.ABC):
    name: str
    #: Payouts complete inside the request (sandbox) rather than in a job.
    instant_payouts: bool = False
    #: Sellers must onboard (a connected account) before a payout.
    requires_onboarding: bool = False
    #: ``create_payment`` calls out, so it may fail after the payment row is written.
    calls_out: bool = True

    @abc.abstractmethod
    def create_payment(self, payment, *, transfer_group: str, idempotency_key: str) -> PaymentSession:
        """Open a payment at the provider for ``payment`` (a flushed Payment row)."""

    def reference_before_insert(self, order_id: int, milestone_id: int | None) -> str | None:
        """The payment's reference when the provider names it without calling out, known before
        the row exists: written by the row's INSERT (no UPDATE follows). None: ``create_payment``
        names it, after the row exists (Stripe's PaymentIntent id)."""
        return None

    @abc.abstractmethod
    def refund(self, payment, refund, *, idempotency_key: str) -> ProviderRefund:
        """Refund ``refund.amount_minor`` of ``payment`` to the buyer."""

    def create_seller_account(self, seller, *, idempotency_key: str) -> str:
        raise ProviderError(f"{self.name} has no connected accounts")

    def onboarding_link(self, account_ref: str, *, return_url: str, refresh_url: str) -> str:
        raise ProviderError(f"{self.name} has no onboarding")

    def seller_ready(self, account_ref: str | None) -> bool:
        return True

    def retrieve_account(self, account_ref: str) -> dict:
        """The provider's view of a seller's account (Stripe's Account object)."""
        raise ProviderError(f"{self.name} has no connected accounts")

    @abc.abstractmethod
    def transfer(
        self,
        account_ref: str | None,
        amount_minor: int,
        currency: str,
        *,
        transfer_group: str,
        idempotency_key: str,
        metadata: dict,
    ) -> str:
        """Send money to a seller; returns the provider's transfer reference."""

    def parse_webhook(self, payload: bytes, signature_header: str | None) -> dict:
        raise WebhookRejected(f"{self.name} sends no webhooks")


class SandboxProvider(PaymentProvider):
    """The embedded default: no network. Checkout is our TEST MODE card page."""

    name = "sandbox"
    instant_payouts = True
    calls_out = False  # create_payment names the payment; it cannot fail

    def create_payment(self, payment, *, transfer_group, idempotency_key):
        return PaymentSession(
            payment_id=payment.id,
            status=payment.status,
            redirect_url=f"/checkout/sandbox/{payment.id}",
            provider_ref=sandbox_payment_ref(payment.order_id, payment.milestone_id),
        )

    def reference_before_insert(self, order_id, milestone_id):
        return sandbox_payment_ref(order_id, milestone_id)

    def refund(self, payment, refund, *, idempotency_key):
        return ProviderRefund(provider_ref=f"sandbox_re_{refund.id}", status="succeeded")

    def transfer(self, account_ref, amount_minor, currency, *, transfer_group, idempotency_key, metadata):
        return f"sandbox_tr_{metadata['payout_id']}"


_TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def _stripe_call(fn, *args, **kwargs):
    """Call the Stripe library; its errors become ProviderError (transient or not)."""
    try:
        return fn(*args, **kwargs)
    except _TRANSIENT as exc:
        raise ProviderError(
            f"Stripe is unreachable or failed: {exc.user_message or exc}", transient=True
        ) from exc
    except stripe.StripeError as exc:
        raise ProviderError(exc.user_message or str(exc)) from exc


def _stripe_amount(minor: int, currency: str, *, charge: bool = False) -> int:
    """Our minor units -> Stripe's ``amount``; an amount Stripe cannot take is a ProviderError."""
    try:
        return money.provider_amount(minor, currency, charge=charge)
    except money.MoneyError as exc:
        raise ProviderError(exc.message) from exc


class StripeProvider(PaymentProvider):
    """Stripe with Connect (Express accounts; separate charges and transfers).

    A client per tenant, with the tenant's own secret key: the global
    ``stripe.api_key`` is never set, so no request can leave with another
    tenant's key. ``STRIPE_API_BASE`` points the library elsewhere (tests).
    """

    name = "stripe"
    requires_onboarding = True

    def __init__(self, secret_key: str, webhook_secret: str | None, publishable_key: str | None):
        config = current_app.config
        base = config.get("STRIPE_API_BASE")
        addresses = {"api": base, "connect": base, "files": base} if base else None
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses=addresses,
            max_network_retries=config.get("STRIPE_MAX_NETWORK_RETRIES", 2),
        )
        self.webhook_secret = webhook_secret
        self.publishable_key = publishable_key
        self.tolerance = config.get("STRIPE_WEBHOOK_TOLERANCE", 300)

    def create_payment(self, payment, *, transfer_group, idempotency_key):
        intent = _stripe_call(
            self.client.v1.payment_intents.create,
            params={
                "amount": _stripe_amount(payment.amount_minor, payment.currency, charge=True),
                "currency": payment.currency.lower(),
                "transfer_group": transfer_group,
                "automatic_payment_methods": {"enabled": True},
                "metadata": {
                    "tenant_id": str(current_tenant().id),
                    "payment_id": str(payment.id),
                    "order_id": str(payment.order_id),
                },
            },
            options={"idempotency_key": idempotency_key},
        )
        return PaymentSession(
            payment_id=payment.id,
            status=payment.status,
            redirect_url=f"/checkout/stripe/{payment.id}",
            client_secret=intent.client_secret,
            provider_ref=intent.id,
        )

    def refund(self, payment, refund, *, idempotency_key):
        result = _stripe_call(
            self.client.v1.refunds.create,
            params={
                "payment_intent": payment.provider_ref,
                "amount": _stripe_amount(refund.amount_minor, refund.currency, charge=True),
                "metadata": {"tenant_id": str(current_tenant().id), "refund_id": str(refund.id)},
            },
            options={"idempotency_key": idempotency_key},
        )
        status = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(
            result.status, "pending"
        )
        return ProviderRefund(provider_ref=result.id, status=status)

    def create_seller_account(self, seller, *, idempotency_key):
        account = _stripe_call(
            self.client.v1.accounts.create,
            params={
                "type": "express",
                "email": seller.email,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"tenant_id": str(current_tenant().id), "user_id": str(seller.id)},
            },
            options={"idempotency_key": idempotency_key},
        )
        return account.id

    def onboarding_link(self, account_ref, *, return_url, refresh_url):
        link = _stripe_call(
            self.client.v1.account_links.create,
            params={
                "account": account_ref,
                "type": "account_onboarding",
                "return_url": return_url,
                "refresh_url": refresh_url,
            },
        )
        return link.url

    def seller_ready(self, account_ref):
        if not account_ref:
            return False
        return account_is_ready(self.retrieve_account(account_ref))

    def retrieve_account(self, account_ref):
        return _stripe_call(self.client.v1.accounts.retrieve, account_ref).to_dict()

    def transfer(self, account_ref, amount_minor, currency, *, transfer_group, idempotency_key, metadata):
        transfer = _stripe_call(
            self.client.v1.transfers.create,
            params={
                "amount": _stripe_amount(amount_minor, currency),
                "currency": currency.lower(),
                "destination": account_ref,
                "transfer_group": transfer_group,
                "metadata": {
                    "tenant_id": str(current_tenant().id),
                    **{k: str(v) for k, v in metadata.items()},
                },
            },
            options={"idempotency_key": idempotency_key},
        )
        return transfer.id

    # --- saved cards and off-session charges (hourly contracts' weekly bills)

    def create_customer(self, user, *, idempotency_key):
        customer = _stripe_call(
            self.client.v1.customers.create,
            params={
                "email": user.email,
                "metadata": {"tenant_id": str(current_tenant().id), "user_id": str(user.id)},
            },
            options={"idempotency_key": idempotency_key},
        )
        return customer.id

    def create_setup_intent(self, customer_ref):
        intent = _stripe_call(
            self.client.v1.setup_intents.create,
            params={
                "customer": customer_ref,
                "usage": "off_session",
                "automatic_payment_methods": {"enabled": True},
                "metadata": {"tenant_id": str(current_tenant().id)},
            },
        )
        return intent.client_secret

    def retrieve_setup_intent(self, setup_intent_ref):
        return _stripe_call(self.client.v1.setup_intents.retrieve, setup_intent_ref).to_dict()

    def retrieve_card(self, payment_method_ref):
        method = _stripe_call(self.client.v1.payment_methods.retrieve, payment_method_ref).to_dict()
        return method.get("card") or {}

    def charge_saved(self, payment, customer_ref, payment_method_ref, *, transfer_group, idempotency_key):
        """An off-session PaymentIntent confirmed at once: (status, provider ref, reason) with
        status succeeded / pending / failed. A decline is a failure, not an error."""
        params = {
            "amount": _stripe_amount(payment.amount_minor, payment.currency, charge=True),
            "currency": payment.currency.lower(),
            "customer": customer_ref,
            "payment_method": payment_method_ref,
            "off_session": True,
            "confirm": True,
            "transfer_group": transfer_group,
            "metadata": {
                "tenant_id": str(current_tenant().id),
                "payment_id": str(payment.id),
                "order_id": str(payment.order_id),
            },
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            pi = (exc.error.payment_intent or {}) if exc.error else {}
            ref = pi.get("id") if isinstance(pi, dict) else getattr(pi, "id", None)
            return "failed", ref, exc.user_message or "The card was declined."
        except _TRANSIENT as exc:
            raise ProviderError(
                f"Stripe is unreachable or failed: {exc.user_message or exc}", transient=True
            ) from exc
        except stripe.StripeError as exc:
            raise ProviderError(exc.user_message or str(exc)) from exc
        status = {"succeeded": "succeeded", "processing": "pending"}.get(intent.status, "failed")
        reason = None if status != "failed" else "The bank asked the cardholder to confirm this charge."
        return status, intent.id, reason

    def parse_webhook(self, payload, signature_header):
        if not self.webhook_secret:
            raise WebhookRejected("this marketplace has no Stripe webhook secret")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature_header, self.webhook_secret, self.tolerance
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"signature verification failed: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise WebhookRejected("the payload is not a Stripe event") from exc
        return event.to_dict()


def account_is_ready(account: dict) -> bool:
    """A connected account can receive transfers."""
    capabilities = account.get("capabilities") or {}
    return bool(account.get("details_submitted")) and (
        capabilities.get("transfers") == "active" or bool(account.get("payouts_enabled"))
    )


def stripe_kyc(account: dict) -> tuple[str, list[str], str | None]:
    """``(kyc_status, requirements, note)`` of a Stripe connected account (an ``account.updated``
    event's object, or ``accounts.retrieve``):

    - ``rejected``: ``requirements.disabled_reason`` is ``rejected.*`` (fraud, terms of service,
      listed, other): Stripe will not pay this account;
    - ``verified``: the account can receive transfers (details submitted, payouts enabled or
      the transfers capability active), even with requirements due later;
    - ``none``: the seller has not submitted their details and Stripe checks nothing yet;
    - ``pending``: anything else: details submitted and Stripe is checking them, or it needs
      more (``requirements`` lists ``currently_due`` and ``past_due``).

    ``note``: Stripe's ``disabled_reason``, when there is one.
    """
    requirements = account.get("requirements") or {}
    due = []
    for item in [*(requirements.get("past_due") or []), *(requirements.get("currently_due") or [])]:
        if isinstance(item, str) and item not in due:
            due.append(item[:200])
    disabled = requirements.get("disabled_reason")
    disabled = str(disabled)[:200] if disabled else None
    if disabled and disabled.startswith("rejected"):
        status = "rejected"
    elif account_is_ready(account):
        status = "verified"
    elif not account.get("details_submitted") and not requirements.get("pending_verification"):
        status = "none"
    else:
        status = "pending"
    return status, due[:50], disabled


def get_provider(settings: MarketplaceSettings | None = None) -> PaymentProvider:
    """The bound tenant's provider. Raises ProviderNotConfigured for Stripe without keys."""
    settings = settings or db.session.get(MarketplaceSettings, 1)
    if settings.payment_provider == "stripe":
        secret = decrypt_secret(settings.stripe_secret_key_encrypted)
        if not secret:
            raise ProviderNotConfigured("Stripe is selected but this marketplace has no Stripe secret key")
        return StripeProvider(
            secret,
            decrypt_secret(settings.stripe_webhook_secret_encrypted),
            settings.stripe_publishable_key,
        )
    return SandboxProvider()
