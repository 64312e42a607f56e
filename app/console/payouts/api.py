"""Console API of the payouts area under ``/api/v1/console``: payouts (list, retry a failed
one), sellers' payout accounts (KYC status; the sandbox's simulated decision) and holds (list,
place, release). Admins only.

Thin: parse with a schema, call the console action (``actions.py``: the back office's rule plus
the audit entry) or a read (``reads.py``), serialize; the request's unit of work commits.
``POST /payouts/{id}/retry`` moves money: it honours an ``Idempotency-Key`` header (the same
key and body replay the first answer), and a failed payout is retried once whatever happens.
Refusals are domain errors answered by the central handler in the house shape
``{code, status, message, errors}`` (``errors.code`` names the refusal: ``kyc_required``,
``payouts_held``, ``hold_active``, ``no_active_hold``, ``not_failed``, ``already_retried``,
``not_a_seller``, ``not_sandbox``, ``kyc_not_started``, ``kyc_unchanged``): 403 below the admin
role, 404 a user, payout or hold this marketplace does not have (another marketplace's ids
included), 409 the state does not allow it, 422 field errors. Nothing changes on a refusal.
"""

from __future__ import annotations

from flask.views import MethodView

from app.console.access import ADMIN, api_console_required, console_user
from app.console.blueprints import blp
from app.console.payouts import actions, reads
from app.console.payouts import schemas as s
from app.core.http import LOCATION, created
from app.core.idempotency import HEADER, idempotent
from app.payments.models import PayoutHold
from app.payments.services import PaymentError
from tenants.db import db

MAX_ID = "int(max=2147483647)"


def _documented(*codes: tuple[int, str]):
    def decorator(view):
        for code, description in codes:
            view = blp.alt_response(code, response="DEFAULT_ERROR", description=description)(view)
        return view

    return decorator


IDEMPOTENCY_DOC = blp.doc(
    parameters=[
        {
            "in": "header",
            "name": HEADER,
            "schema": {"type": "string"},
            "required": False,
            "description": "Retry-safe key: the same key and body replay the first answer.",
        }
    ]
)


@blp.route("/payouts", endpoint="payouts")
class ConsolePayouts(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.ConsolePayoutListArgs, location="query")
    @blp.response(200, s.ConsolePayoutSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown status, an overlong search, or bad days"))
    def get(self, args, pagination_parameters):
        """Every payout of the marketplace, newest first, with its seller: filter by `status`,
        seller (`q`: email, name or `#id`) and the days it was requested (`from`, `to`). A
        failed payout not retried yet has `can_retry`. Paginated (`page`, `page_size`; total in
        `X-Pagination`)."""
        filters = reads.payout_filters(
            args.get("status"), args.get("q"), args.get("date_from"), args.get("date_to")
        )
        rows, total = reads.search_payouts(
            filters, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return rows


@blp.route(f"/payouts/<{MAX_ID}:payout_id>/retry", endpoint="payout_retry")
class ConsolePayoutRetry(MethodView):
    @api_console_required(ADMIN)
    @idempotent
    @IDEMPOTENCY_DOC
    @blp.response(201, s.ConsolePayoutSchema, headers=LOCATION)
    @_documented(
        (404, "No such payout"),
        (
            409,
            "Not failed (`errors.current_status`), already retried (`errors.retry_id`), or the "
            "seller cannot be paid out now (`errors.code`: `kyc_required`, `payouts_held`, or more "
            "than the available balance)",
        ),
    )
    def post(self, payout_id):
        """Retry a failed payout: a new payout of the same amount (`retry_of_id`), recorded in
        the ledger and sent with its own idempotency key; the failed one's money had gone back
        to the seller's available balance, so nothing is paid twice. A failed payout is retried
        once. Written to the audit log as `payout.retry`."""
        new = actions.retry_payout(console_user(), payout_id)
        return created(reads.payout_row(new.id), "console_api.payouts")  # the payouts list it


@blp.route("/payout-accounts", endpoint="payout_accounts")
class ConsolePayoutAccounts(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.ConsolePayoutAccountListArgs, location="query")
    @blp.response(200, s.ConsolePayoutAccountSchema(many=True))
    @blp.paginate()
    @_documented((422, "Unknown KYC status or held value, or an overlong search"))
    def get(self, args, pagination_parameters):
        """Sellers' payout accounts at the marketplace's provider, pending verifications
        first: KYC status, what the provider still needs, last checked, the active hold, the
        available balance and what blocks a payout now (`blocked`). Filter by `kyc`, `held`
        and seller (`q`). Paginated."""
        filters = reads.account_filters(args.get("kyc"), args.get("q"), args.get("held"))
        rows, total = reads.search_accounts(
            filters, pagination_parameters.page, pagination_parameters.page_size
        )
        pagination_parameters.item_count = total
        return rows


@blp.route(f"/payout-accounts/<{MAX_ID}:user_id>", endpoint="payout_account")
class ConsolePayoutAccount(MethodView):
    @api_console_required(ADMIN)
    @blp.response(200, s.ConsolePayoutAccountSchema)
    @_documented((404, "No such user"), (409, "Not a seller (`errors.code` `not_a_seller`)"))
    def get(self, user_id):
        """One seller's payout account (as in the list)."""
        return reads.account_detail(user_id).row


@blp.route(f"/payout-accounts/<{MAX_ID}:user_id>/kyc", endpoint="payout_account_kyc")
class ConsolePayoutAccountKyc(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleKycDecisionSchema, example={"status": "verified"})
    @blp.response(200, s.ConsolePayoutAccountSchema)
    @_documented(
        (404, "No such user"),
        (
            409,
            "Not a seller, the marketplace uses Stripe (`not_sandbox`), the seller has not started "
            "(`kyc_not_started`) or is already so (`kyc_unchanged`)",
        ),
        (422, "A decision other than verified / rejected, or a rejection without a note"),
    )
    def post(self, body, user_id):
        """Sandbox only: complete the simulated identity check the seller started (`pending`),
        as `verified` or `rejected` (with a note the seller reads). With Stripe, Stripe decides
        (`account.updated`). Written to the audit log as `payout_account.kyc`; the seller is
        told."""
        actions.decide_kyc(console_user(), user_id, body["status"], body.get("note"))
        return reads.account_detail(user_id).row


@blp.route("/holds", endpoint="payout_holds")
class ConsolePayoutHolds(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleHoldListArgs, location="query")
    @blp.response(200, s.ConsoleHoldSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """Holds on sellers' payouts, newest first: `state` `active` (the default), `released`
        or `all`. Paginated."""
        active = {"active": True, "released": False, "all": None}[args.get("state", "active")]
        rows, total = reads.list_holds(active, pagination_parameters.page, pagination_parameters.page_size)
        pagination_parameters.item_count = total
        return rows

    @api_console_required(ADMIN)
    @blp.arguments(
        s.ConsoleHoldPlaceSchema, example={"user_id": 12, "reason": "Chargebacks on three orders."}
    )
    @blp.response(201, s.ConsoleHoldSchema, headers=LOCATION)
    @_documented(
        (404, "No such user"),
        (409, "Not a seller, or their payouts are already held (`errors.code` `hold_active`)"),
        (422, "An empty or overlong reason"),
    )
    def post(self, body):
        """Hold a seller's payouts with a reason: no payout leaves (requested or scheduled) until
        the hold is released; the money stays on the seller's available balance. The seller is
        told to contact support (not the reason). Written to the audit log as `payout.hold`."""
        hold = actions.place_hold(console_user(), body["user_id"], body["reason"])
        return created(reads.hold_row(hold.id), "console_api.payout_holds")  # the holds list it


@blp.route(f"/holds/<{MAX_ID}:hold_id>/release", endpoint="payout_hold_release")
class ConsolePayoutHoldRelease(MethodView):
    @api_console_required(ADMIN)
    @blp.arguments(s.ConsoleHoldReleaseSchema, example={"note": "The buyers confirmed delivery."})
    @blp.response(200, s.ConsoleHoldSchema)
    @_documented(
        (404, "No such hold"),
        (409, "Released already (`errors.code` `no_active_hold`)"),
        (422, "An overlong note"),
    )
    def post(self, body, hold_id):
        """Release a hold: the seller can be paid out again (and is told). Written to the audit
        log as `payout.hold_release`."""
        hold = db.session.get(PayoutHold, hold_id)
        if hold is None:
            raise PaymentError(404, "No such hold in this marketplace.")
        if not hold.active:
            raise PaymentError(409, f"Hold #{hold.id} is released already.", code="no_active_hold")
        actions.release_hold(console_user(), hold.user_id, body.get("note"))
        return reads.hold_row(hold.id)
