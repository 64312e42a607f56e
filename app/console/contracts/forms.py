"""Web forms of the contracts area. They carry the input only: the rules (the filters, the
reason's length) are the console reads' and the contracts domain's, for web and API alike."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from app.console.contracts.reads import MAX_DUE_DAYS, milestone_label, status_label
from app.contracts import services
from app.contracts.models import CONTRACT_STATUSES
from app.core.forms import Form
from app.orders.models import MILESTONE_STATUSES


class ContractFilterForm(Form):
    """The contract list's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s, status_label(s)) for s in CONTRACT_STATUSES],
        validate_choice=False,  # the filter check names an unknown status
    )
    date_from = StringField("Started from", name="from", render_kw={"type": "date"})
    date_to = StringField("Started to", name="to", render_kw={"type": "date"})


class MilestoneFilterForm(Form):
    """The milestones queue's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    state = SelectField(
        "State",
        choices=[SelectChoice("", "Any state")]
        + [SelectChoice(s, milestone_label(s)) for s in MILESTONE_STATUSES],
        validate_choice=False,
    )
    due_within = StringField(
        "Auto-release due within (days)",
        description=f"0 to {MAX_DUE_DAYS}; overdue included.",
        render_kw={"inputmode": "numeric", "type": "number", "min": 0, "max": MAX_DUE_DAYS},
    )


class EndContractForm(Form):
    reason = TextAreaField(
        "Why the marketplace ends this contract",
        description=f"Both parties read this reason. {services.OPERATOR_REASON_MIN} to "
        f"{services.TEXT_MAX:,} characters; kept in the audit log.",
        validators=[Length(max=10_000)],
    )
