"""Web forms of the payouts area. They carry the input only: the rules (filters, a hold's
reason, the KYC decision's note) are the console reads' and the payments back office's, for
web and API alike."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.console.payouts.reads import KYC_LABELS
from app.core.forms import Form
from app.payments.backoffice import NOTE_MAX, REASON_MAX
from app.payments.models import KYC_STATUSES, PAYOUT_STATUSES


class PayoutFilterForm(Form):
    """The payouts list's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Seller")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s, s.capitalize()) for s in PAYOUT_STATUSES],
        validate_choice=False,  # the filter check names an unknown status
    )
    date_from = StringField("Requested from", name="from", render_kw={"type": "date"})
    date_to = StringField("Requested to", name="to", render_kw={"type": "date"})


class AccountFilterForm(Form):
    """The payout accounts' filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Seller")
    kyc = SelectField(
        "KYC status",
        choices=[SelectChoice("", "Any KYC status")] + [SelectChoice(s, KYC_LABELS[s]) for s in KYC_STATUSES],
        validate_choice=False,
    )
    held = SelectField(
        "Payouts",
        choices=[
            SelectChoice("", "Held or not"),
            SelectChoice("yes", "On hold"),
            SelectChoice("no", "Not held"),
        ],
        validate_choice=False,
    )


class RetryPayoutForm(Form):
    """Retry a failed payout (the button)."""


class HoldForm(Form):
    reason = TextAreaField(
        "Why hold this seller's payouts",
        description=f"For operators (kept in the audit log); the seller is told to contact support. "
        f"Up to {REASON_MAX:,} characters.",
        validators=[Length(max=10_000)],
    )


class ReleaseHoldForm(Form):
    note = TextAreaField(
        "Note (optional)",
        description=f"Why the hold ends, for the audit log. Up to {NOTE_MAX:,} characters.",
        validators=[Length(max=10_000)],
    )


class KycDecisionForm(Form):
    """The sandbox's simulated identity check: the operator's decision (the pressed button's
    value names it)."""

    status = SelectField(
        "Decision",
        choices=[SelectChoice("verified", "Verified"), SelectChoice("rejected", "Rejected")],
        validate_choice=False,  # the back office names a bad decision
    )
    note = TextAreaField(
        "Note for the seller",
        description=f"Required to reject: the seller reads it. Up to {NOTE_MAX:,} characters.",
        validators=[Length(max=10_000)],
    )
