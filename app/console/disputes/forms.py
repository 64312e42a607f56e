"""Web forms of the disputes area. They carry the input only: the rules (lengths, stages,
splits, the settings' ranges) are the disputes domain's, for web and API alike. Amounts are
typed in major units ("60.00") and become minor units in the action (``app.core.money``).

The case page holds several forms at once, so their fields have distinct names (no prefixes:
the decision's and the dismissal's confirmation step checks the plain ``csrf_token``)."""

from __future__ import annotations

from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField

from app.console.disputes.reads import MAX_AGE_DAYS, MEDIATOR_LABELS, SORT_LABELS, STATUS_LABELS, stage_label
from app.core.forms import Form
from app.disputes.admin import DAY_RANGES, EXPERT_FIELD_MAX, FEE_RULE_MAX
from app.disputes.models import NOTE_MAX, STAGES, STATUSES

OUTCOME_CHOICES = [
    SelectChoice("split", "Split: the amounts below"),
    SelectChoice("refund", "Refund everything to the buyer"),
    SelectChoice("release", "Release everything to the seller"),
]


class DisputeFilterForm(Form):
    """The queue's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s, STATUS_LABELS[s]) for s in STATUSES],
        validate_choice=False,  # the filter check names an unknown value
    )
    stage = SelectField(
        "Stage",
        choices=[SelectChoice("", "Any stage")] + [SelectChoice(s, stage_label(s)) for s in STAGES],
        validate_choice=False,
    )
    mediator = SelectField(
        "Mediator", choices=[SelectChoice(k, v) for k, v in MEDIATOR_LABELS.items()], validate_choice=False
    )
    older_than = StringField(
        "Opened at least (days ago)",
        render_kw={"inputmode": "numeric", "type": "number", "min": 0, "max": MAX_AGE_DAYS},
    )
    sort = SelectField(
        "Order", choices=[SelectChoice(k, v) for k, v in SORT_LABELS.items()], validate_choice=False
    )
    date_from = StringField("Opened from", name="from", render_kw={"type": "date"})
    date_to = StringField("Opened to", name="to", render_kw={"type": "date"})


class AssignForm(Form):
    mediator_id = SelectField("Mediator", choices=[], validate_choice=False)


class MessageForm(Form):
    body = TextAreaField(
        "Message to both parties",
        description=f"Both parties read it in the dispute. Up to {NOTE_MAX:,} characters.",
    )


class ProposalForm(Form):
    proposal_outcome = SelectField("Proposal", choices=OUTCOME_CHOICES, validate_choice=False)
    proposal_refund = StringField("Back to the buyer", render_kw={"inputmode": "decimal"})
    proposal_release = StringField("To the seller", render_kw={"inputmode": "decimal"})
    proposal_message = TextAreaField(
        "Why this is fair", description="Both parties read it; each accepts or refuses the proposal."
    )


class ExpertRequestForm(Form):
    expert_id = SelectField("Expert", choices=[], validate_choice=False)
    question = TextAreaField("What the expert should assess", description=f"Up to {NOTE_MAX:,} characters.")


class HandOverForm(Form):
    note = TextAreaField("Note for the admin (optional)")


class DecideForm(Form):
    outcome = SelectField("Decision", choices=OUTCOME_CHOICES, validate_choice=False)
    refund = StringField("Back to the buyer", render_kw={"inputmode": "decimal"})
    release = StringField("To the seller", render_kw={"inputmode": "decimal"})
    reason = TextAreaField(
        "Reason", description="Both parties read it. The decision is final and moves the money now."
    )


class DismissForm(Form):
    dismiss_reason = TextAreaField(
        "Why the dispute is dismissed",
        description="Nothing moves: the money stays in escrow and the order goes on where it was.",
    )


class DisputeSettingsForm(Form):
    self_resolution_days = StringField(
        "Self-resolution (days)",
        description="How long the parties have to agree before the marketplace mediates.",
        render_kw={
            "type": "number",
            "inputmode": "numeric",
            "min": 1,
            "max": DAY_RANGES["self_resolution_days"][2],
        },
    )
    answer_days = StringField(
        "Time to answer (days)",
        description="The other side's deadline to react; silent past it, the side that acted wins.",
        render_kw={"type": "number", "inputmode": "numeric", "min": 1, "max": DAY_RANGES["answer_days"][2]},
    )
    mediation_days = StringField(
        "Mediation (days)",
        description="How long mediation lasts before an admin decides.",
        render_kw={
            "type": "number",
            "inputmode": "numeric",
            "min": 1,
            "max": DAY_RANGES["mediation_days"][2],
        },
    )
    expert_days = StringField(
        "Expert review (days)",
        description="How long an expert has for the assessment.",
        render_kw={"type": "number", "inputmode": "numeric", "min": 1, "max": DAY_RANGES["expert_days"][2]},
    )
    expert_review_enabled = BooleanField("Mediators may ask an appointed expert for an assessment")
    expert_fee_rule = TextAreaField(
        "Expert fee rule",
        description=f"Who pays the expert, in your words; shown to both parties when an expert is asked. "
        f"Up to {FEE_RULE_MAX:,} characters.",
    )


class AppointExpertForm(Form):
    email = StringField("Member's email", render_kw={"type": "email", "autocomplete": "off"})
    field = StringField("Field of expertise", description=f"Up to {EXPERT_FIELD_MAX} characters.")


class RemoveExpertForm(Form):
    """A button that only needs the CSRF token."""
