"""Web forms of the orders, audit log and refund pages (the rules are in ``orders.py`` and
``audit_log.py``; the filter forms are GET forms without a CSRF token)."""

from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.core.forms import Form
from app.orders import services as order_services
from app.orders.models import ORDER_STATUSES


class OrderFilterForm(Form):
    """The orders list's filters (a GET form: no CSRF token; rules in ``operations.order_filters``)."""

    class Meta:
        csrf = False

    q = StringField("Search", description="Order number, buyer or seller name or email, title")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(s, order_services.status_label(s)) for s in ORDER_STATUSES],
        validate_choice=False,
    )
    date_from = StringField("Placed from", name="from", render_kw={"type": "date"})
    date_to = StringField("Placed to", name="to", render_kw={"type": "date"})


class AuditFilterForm(Form):
    class Meta:
        csrf = False

    q = StringField("Search", description="Summary, operator, action or target")
    action = StringField("Action", description="e.g. order.refund, or order for every order action")
    actor_id = SelectField("Operator", validate_choice=False)
    target_type = StringField("Target type", description="e.g. order, user, gig, settings")
    target_id = StringField("Target id")
    date_from = StringField("From", name="from", render_kw={"type": "date"})
    date_to = StringField("To", name="to", render_kw={"type": "date"})


class CancelOrderForm(Form):
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired("Give the reason: the buyer and the seller see it."),
            Length(max=order_services.MAX_TEXT),
        ],
        description="Shown to the buyer and the seller, and kept in the audit log.",
    )
    refund = StringField(
        "Refund to the buyer",
        description="Empty: a full refund of what is in escrow. A smaller amount: a partial refund, the rest "
        "goes to the seller (minus commission). 0: no refund.",
        render_kw={"inputmode": "decimal", "placeholder": "all of it"},
    )
