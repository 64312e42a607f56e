"""A local HTTP server that answers the Stripe endpoints Gigforge calls, for the real
``stripe`` library to talk to (``STRIPE_API_BASE`` points at it).

It keeps objects per API key (each tenant's platform account is its own world),
honours ``Idempotency-Key`` like Stripe (same key and parameters: the first
response again; same key, other parameters: 400 ``idempotency_error``), and
records every request so tests can assert keys, idempotency keys and
parameters. ``fail_next(path, status)`` makes the next call to a path fail
(a 500 is retried by the library with the same idempotency key).

Amounts follow Stripe's currency rules (docs.stripe.com/currencies), written out here
on their own rather than taken from ``app.core.money``, so the emulator checks the app:
ISK is charged, and HUF, TWD and ISK are transferred, in whole units (an ``amount``
divisible by 100, Stripe still counting hundredths); the three-decimal currencies are
charged and refunded in steps of ten thousandths.

Saved cards (hourly contracts): ``customers`` (create), ``setup_intents`` (create, retrieve;
``confirm_setup(api_key, seti, "pm_card_visa")`` plays Stripe.js confirming one with a test
payment method: ``pm_card_visa``, ``pm_card_chargeDeclined``, ``pm_card_authenticationRequired``),
``payment_methods`` (retrieve: the card's brand, last4 and expiry), and PaymentIntents created
with ``customer`` + ``payment_method`` + ``confirm=true`` + ``off_session=true``: succeeded, or
like Stripe a 402 ``card_error`` (``card_declined`` / ``authentication_required``) carrying the
PaymentIntent; ``processing = True`` leaves such charges ``processing`` (a webhook confirms).

``sign(payload, secret)`` and ``event(...)`` build webhook deliveries exactly as
Stripe signs them: ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<payload>" under the endpoint's signing secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

WHOLE_UNIT_CHARGES = {"isk"}
WHOLE_UNIT_TRANSFERS = {"huf", "twd", "isk"}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


def amount_problem(amount: int, currency: str, *, charge: bool) -> str | None:
    """Why Stripe would refuse ``amount`` of ``currency``, or None."""
    currency = (currency or "").lower()
    whole_units = WHOLE_UNIT_CHARGES if charge else WHOLE_UNIT_TRANSFERS
    if currency in whole_units and amount % 100:
        return f"Invalid amount. {currency.upper()} amounts must be evenly divisible by 100."
    if charge and currency in THREE_DECIMAL and amount % 10:
        return f"Invalid amount. The last digit of {currency.upper()} amounts must be 0."
    return None


def parse_form(body: str) -> dict:
    """Stripe's form encoding (``metadata[order_id]=3``, ``items[0][x]=1``) -> nested dicts."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


@dataclass
class Recorded:
    method: str
    path: str
    api_key: str | None
    idempotency_key: str | None
    params: dict
    status: int = 0


@dataclass
class StripeEmulator:
    requests: list[Recorded] = field(default_factory=list)
    objects: dict = field(default_factory=dict)  # (api_key, id) -> object
    idempotent: dict = field(default_factory=dict)  # (api_key, idem key) -> (params, status, body)
    failures: dict = field(default_factory=dict)  # path -> [status, ...]
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    base_url: str = ""
    processing: bool = False  # off-session charges stay "processing" (their webhook confirms)

    # --- control from tests ---------------------------------------------------------------

    def fail_next(self, path: str, status: int = 500, times: int = 1) -> None:
        self.failures.setdefault(path, []).extend([status] * times)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path.startswith(path))
        ]

    def get(self, api_key: str, object_id: str) -> dict | None:
        return self.objects.get((api_key, object_id))

    def of_type(self, api_key: str, prefix: str) -> list[dict]:
        return [o for (k, oid), o in self.objects.items() if k == api_key and oid.startswith(prefix)]

    def complete_onboarding(self, api_key: str, account_id: str) -> dict:
        account = self.objects[(api_key, account_id)]
        account.update(
            details_submitted=True,
            charges_enabled=True,
            payouts_enabled=True,
            capabilities={"transfers": "active"},
        )
        return account

    def confirm_setup(self, api_key: str, setup_intent_id: str, test_method: str = "pm_card_visa") -> dict:
        """Stripe.js confirmed the SetupIntent with a test payment method: a PaymentMethod
        of that test card is attached to the customer and the intent succeeded."""
        card = TEST_PAYMENT_METHODS[test_method]
        intent = self.objects[(api_key, setup_intent_id)]
        method = {
            "id": self._id("pm"),
            "object": "payment_method",
            "type": "card",
            "customer": intent["customer"],
            "card": {k: v for k, v in card.items() if k != "outcome"},
            "_outcome": card["outcome"],
        }
        self.objects[(api_key, method["id"])] = method
        intent.update(status="succeeded", payment_method=method["id"])
        return intent

    # --- the server -----------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_emu{next(self.counter):06d}"

    def _error(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        return status, {"error": {"type": kind, "message": message, **({"code": code} if code else {})}}

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        params = parse_form(body if request.method == "POST" else request.query_string.decode())
        auth = request.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        idem = request.headers.get("Idempotency-Key")
        record = Recorded(request.method, request.path, api_key, idem, params)
        with self.lock:
            self.requests.append(record)
            status, payload = self._handle(request.method, request.path, params, api_key, idem)
        record.status = status
        response = Response(json.dumps(payload), status=status, content_type="application/json")
        response.headers["Request-Id"] = self._id("req")
        if idem:
            response.headers["Idempotency-Key"] = idem
        return response(environ, start_response)

    def _handle(self, method, path, params, api_key, idem):
        if not api_key or not api_key.startswith(("sk_test_", "rk_test_")):
            return self._error(401, "Invalid API Key provided.", "invalid_request_error")
        queued = self.failures.get(path)
        if queued:
            return self._error(queued.pop(0), "Emulated failure.", "api_error")
        if method == "POST" and idem:
            stored = self.idempotent.get((api_key, idem))
            if stored is not None:
                if stored[0] != (path, params):
                    return self._error(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                        "idempotency_error",
                    )
                return stored[1], stored[2]
        status, payload = self._route(method, path, params, api_key)
        if method == "POST" and idem and status < 500:
            self.idempotent[(api_key, idem)] = ((path, params), status, json.loads(json.dumps(payload)))
        return status, payload

    def _route(self, method, path, params, api_key):
        parts = path.strip("/").split("/")
        if parts[0] != "v1" or len(parts) < 2:
            return self._error(404, f"Unrecognized request URL ({method}: {path}).")
        resource = parts[1]
        if method == "GET" and len(parts) == 3:
            obj = self.objects.get((api_key, parts[2]))
            if obj is None or obj["object"] != _OBJECT_OF.get(resource):
                return self._error(404, f"No such {resource[:-1]}: '{parts[2]}'", code="resource_missing")
            return 200, obj
        if method == "POST" and len(parts) == 2:
            creator = getattr(self, f"_create_{resource}", None)
            if creator is not None:
                return creator(params, api_key)
        return self._error(404, f"Unrecognized request URL ({method}: {path}).")

    def _store(self, api_key, obj):
        self.objects[(api_key, obj["id"])] = obj
        return 200, obj

    def _create_customers(self, params, api_key):
        return self._store(
            api_key,
            {
                "id": self._id("cus"),
                "object": "customer",
                "email": params.get("email"),
                "metadata": params.get("metadata", {}),
            },
        )

    def _create_setup_intents(self, params, api_key):
        customer = params.get("customer", "")
        if (api_key, customer) not in self.objects:
            return self._error(400, f"No such customer: '{customer}'", code="resource_missing")
        sid = self._id("seti")
        return self._store(
            api_key,
            {
                "id": sid,
                "object": "setup_intent",
                "customer": customer,
                "usage": params.get("usage", "off_session"),
                "status": "requires_payment_method",
                "payment_method": None,
                "client_secret": f"{sid}_secret_{hashlib.sha256(sid.encode()).hexdigest()[:12]}",
                "metadata": params.get("metadata", {}),
            },
        )

    def _charge_saved(self, params, api_key, intent):
        """An off-session PaymentIntent confirmed at once with a saved card."""
        method = self.objects.get((api_key, params.get("payment_method", "")))
        if method is None or method["object"] != "payment_method":
            return self._error(400, "No such PaymentMethod.", code="resource_missing")
        if method.get("customer") != params.get("customer"):
            return self._error(
                400, "The PaymentMethod does not belong to this Customer.", code="payment_method_invalid"
            )
        intent.update(customer=params["customer"], payment_method=method["id"])
        outcome = method["_outcome"]
        if outcome == "succeeds":
            if self.processing:
                intent.update(status="processing")
            else:
                intent.update(
                    status="succeeded",
                    amount_received=intent["amount"],
                    latest_charge=f"ch_{intent['id'][3:]}",
                )
            return self._store(api_key, intent)
        code, message = {
            "declined": ("card_declined", "Your card was declined."),
            "authenticate": (
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            ),
        }[outcome]
        intent.update(
            status="requires_payment_method",
            last_payment_error={"type": "card_error", "code": code, "message": message},
        )
        self.objects[(api_key, intent["id"])] = intent
        error = {
            "type": "card_error",
            "code": code,
            "message": message,
            "payment_intent": json.loads(json.dumps(intent)),
        }
        if code == "card_declined":
            error["decline_code"] = "generic_decline"
        return 402, {"error": error}

    def _create_payment_intents(self, params, api_key):
        amount = int(params.get("amount", 0))
        if amount < 1 or not params.get("currency"):
            return self._error(400, "Missing required param: amount.", code="parameter_missing")
        problem = amount_problem(amount, params["currency"], charge=True)
        if problem:
            return self._error(400, problem, code="invalid_amount")
        pid = self._id("pi")
        if params.get("confirm") == "true" and params.get("payment_method"):
            if params.get("off_session") != "true" or not params.get("customer"):
                return self._error(400, "Emulated: saved cards are charged off-session with a customer.")
            intent = {
                "id": pid,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": 0,
                "currency": params["currency"],
                "status": "requires_payment_method",
                "client_secret": f"{pid}_secret_{hashlib.sha256(pid.encode()).hexdigest()[:12]}",
                "transfer_group": params.get("transfer_group"),
                "metadata": params.get("metadata", {}),
                "livemode": False,
            }
            return self._charge_saved(params, api_key, intent)
        return self._store(
            api_key,
            {
                "id": pid,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": 0,
                "currency": params["currency"],
                "status": "requires_payment_method",
                "client_secret": f"{pid}_secret_{hashlib.sha256(pid.encode()).hexdigest()[:12]}",
                "transfer_group": params.get("transfer_group"),
                "metadata": params.get("metadata", {}),
                "livemode": False,
            },
        )

    def _create_refunds(self, params, api_key):
        intent = self.objects.get((api_key, params.get("payment_intent", "")))
        if intent is None:
            return self._error(404, "No such payment_intent.", code="resource_missing")
        amount = int(params.get("amount", intent["amount_received"]))
        refunded = sum(
            o["amount"] for o in self.of_type(api_key, "re_") if o["payment_intent"] == intent["id"]
        )
        if intent["status"] != "succeeded" or amount > intent["amount_received"] - refunded:
            return self._error(
                400, "Refund amount is greater than unrefunded amount on charge.", code="amount_too_large"
            )
        problem = amount_problem(amount, intent["currency"], charge=True)
        if problem:
            return self._error(400, problem, code="invalid_amount")
        return self._store(
            api_key,
            {
                "id": self._id("re"),
                "object": "refund",
                "amount": amount,
                "currency": intent["currency"],
                "payment_intent": intent["id"],
                "status": "succeeded",
                "metadata": params.get("metadata", {}),
            },
        )

    def _create_transfers(self, params, api_key):
        destination = self.objects.get((api_key, params.get("destination", "")))
        if destination is None or destination.get("capabilities", {}).get("transfers") != "active":
            return self._error(
                400, "The destination account cannot receive transfers.", code="account_invalid"
            )
        problem = amount_problem(int(params["amount"]), params.get("currency", ""), charge=False)
        if problem:
            return self._error(400, problem, code="invalid_amount")
        return self._store(
            api_key,
            {
                "id": self._id("tr"),
                "object": "transfer",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "destination": destination["id"],
                "transfer_group": params.get("transfer_group"),
                "metadata": params.get("metadata", {}),
                "reversed": False,
            },
        )

    def _create_accounts(self, params, api_key):
        return self._store(
            api_key,
            {
                "id": self._id("acct"),
                "object": "account",
                "type": params.get("type"),
                "email": params.get("email"),
                "details_submitted": False,
                "charges_enabled": False,
                "payouts_enabled": False,
                "capabilities": {"transfers": "inactive"},
                "metadata": params.get("metadata", {}),
            },
        )

    def _create_account_links(self, params, api_key):
        if (api_key, params.get("account", "")) not in self.objects:
            return self._error(404, "No such account.", code="resource_missing")
        return 200, {
            "object": "account_link",
            "url": f"{self.base_url}/connect/onboarding/{params['account']}",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
        }

    # --- the other side: paying, as Stripe.js and the dashboard would -----------------------

    def succeed(self, api_key: str, intent_id: str) -> dict:
        intent = self.objects[(api_key, intent_id)]
        intent.update(
            status="succeeded", amount_received=intent["amount"], latest_charge=f"ch_{intent_id[3:]}"
        )
        return intent

    def charge_of(self, api_key: str, intent_id: str) -> dict:
        """The charge of a succeeded intent with its refunds, as in ``charge.refunded``."""
        intent = self.objects[(api_key, intent_id)]
        refunds = [o for o in self.of_type(api_key, "re_") if o["payment_intent"] == intent_id]
        return {
            "id": intent.get("latest_charge") or f"ch_{intent_id[3:]}",
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": sum(r["amount"] for r in refunds),
            "payment_intent": intent_id,
            "refunded": sum(r["amount"] for r in refunds) == intent["amount"],
            "refunds": {"object": "list", "data": refunds},
            "metadata": {},
        }


# Stripe's test PaymentMethods (docs.stripe.com/testing) and what charging them does.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": {
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2034,
        "outcome": "succeeds",
    },
    "pm_card_chargeDeclined": {
        "brand": "visa",
        "last4": "0002",
        "exp_month": 12,
        "exp_year": 2034,
        "outcome": "declined",
    },
    "pm_card_authenticationRequired": {
        "brand": "visa",
        "last4": "3184",
        "exp_month": 12,
        "exp_year": 2034,
        "outcome": "authenticate",
    },
}

_OBJECT_OF = {
    "customers": "customer",
    "setup_intents": "setup_intent",
    "payment_methods": "payment_method",
    "payment_intents": "payment_intent",
    "refunds": "refund",
    "transfers": "transfer",
    "accounts": "account",
}


class EmulatorServer:
    def __init__(self, emulator: StripeEmulator):
        self.server = make_server("127.0.0.1", 0, emulator, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        emulator.base_url = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="stripe-emulator")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()


_event_ids = itertools.count(1)


def event(event_type: str, obj: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_emu{next(_event_ids):06d}_{int(time.time() * 1000)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
