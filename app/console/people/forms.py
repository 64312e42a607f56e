"""Web forms of the users and gig moderation pages. They carry the input only: the rules (reason
lengths, known roles, who may act on whom) are the services', for web and API alike."""

from __future__ import annotations

from wtforms import HiddenField, SelectChoice, SelectField, TextAreaField

from app.accounts import moderation as user_rules
from app.accounts.models import ROLES
from app.core.forms import Form
from app.gigs import moderation as gig_rules


class SuspendForm(Form):
    reason = TextAreaField(
        "Reason",
        description=f"Emailed to the user. {user_rules.REASON_MIN} to {user_rules.REASON_MAX} characters.",
    )


class ConfirmActionForm(Form):
    """A button that only needs the CSRF token (reactivate)."""


class RoleForm(Form):
    role = SelectField("Role", choices=[SelectChoice(role, user_rules.ROLE_LABELS[role]) for role in ROLES])


class _PrefixedForm(Form):
    """The review page holds three forms: field names (and ids) carry the form's prefix."""

    PREFIX = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.PREFIX)
        super().__init__(*args, **kwargs)


class ApproveForm(_PrefixedForm):
    PREFIX = "approve"
    version = HiddenField()


class RejectForm(_PrefixedForm):
    PREFIX = "reject"
    version = HiddenField()
    reason = TextAreaField(
        "Why it is not approved",
        description=f"The seller reads this and can fix the gig. {gig_rules.REASON_MIN} to "
        f"{gig_rules.REASON_MAX} characters.",
    )


class PauseForm(_PrefixedForm):
    PREFIX = "pause"
    reason = TextAreaField(
        "Why it is paused",
        description="The seller reads this; publishing the gig again sends it to review.",
    )
