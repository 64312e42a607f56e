"""Web forms of the reviews area. They carry the input only: the rules (reason length, the
window's range, thresholds and their order) are the reviews domain's, for web and API alike.
Earnings are typed as money ("400.00") and become minor units in the view (app.core.money)."""

from __future__ import annotations

from wtforms import BooleanField, Form, FormField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.console.reviews.reads import STATUS_LABELS
from app.core.forms import Form as PageForm
from app.reviews import services
from app.reviews.models import REVIEW_STATUSES
from app.reviews.settings import LEVELS, RULES


class ReviewFilterForm(PageForm):
    """The list's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional()])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")]
        + [SelectChoice(status, STATUS_LABELS[status]) for status in REVIEW_STATUSES],
        validate_choice=False,  # the filter check names an unknown status
    )
    gig_id = StringField("Gig id", validators=[Optional()])
    user_id = StringField("Person id", validators=[Optional()])


class _PrefixedForm(PageForm):
    """The review page holds several forms: field names (and ids) carry the form's prefix."""

    PREFIX = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.PREFIX)
        super().__init__(*args, **kwargs)


class HideForm(PageForm):
    # Not prefixed: the confirmation step (app/core/confirm.py) checks the plain ``csrf_token``.
    # The page shows it or the restore form, never both.
    reason = TextAreaField(
        "Why it is hidden",
        description=f"The author is told this reason. Up to {services.REASON_MAX} characters.",
    )


class RestoreForm(_PrefixedForm):
    PREFIX = "restore"
    reason = TextAreaField(
        "Why it is restored",
        description=f"Kept in the review's history. Up to {services.REASON_MAX} characters.",
    )


class ConfirmActionForm(PageForm):
    """A button that only needs the CSRF token (approve, dismiss a report)."""


class ThresholdForm(Form):
    """One level's thresholds (a subform: the page's form carries the CSRF token)."""

    orders = StringField(RULES["orders"].label, validators=[Length(max=20)])
    earnings = StringField(RULES["earnings_minor"].label, validators=[Length(max=40)])
    rating = StringField(RULES["rating"].label, validators=[Length(max=20)])
    on_time_rate = StringField(RULES["on_time_rate"].label, validators=[Length(max=20)])
    days_active = StringField(RULES["days_active"].label, validators=[Length(max=20)])


class ReputationSettingsForm(PageForm):
    window_days = StringField(
        "Review window (days)",
        validators=[Length(max=10)],
        description="How long both sides of a completed order have to review each other: 1 to 90 days. "
        "Applies to orders completed from now on.",
    )
    hold_banned_words = BooleanField("Hold reviews with a banned word for approval")
    banned_words = TextAreaField(
        "Banned words",
        validators=[Length(max=20_000)],
        description=f"One per line or separated by commas; whole words, any case. At most "
        f"{services.MAX_BANNED_WORDS} words of up to 40 characters.",
    )
    level_1 = FormField(ThresholdForm)
    level_2 = FormField(ThresholdForm)
    top_rated = FormField(ThresholdForm)

    @property
    def levels(self):
        return [(level, self[level]) for level in LEVELS]


# The refusal's dotted names -> the inputs' ids, for refuse_form
# (``level_thresholds.level_2.earnings_minor`` is the box ``level_2-earnings``).
THRESHOLD_ALIASES = {
    f"level_thresholds.{level}.{field}": f"{level}-{'earnings' if field == 'earnings_minor' else field}"
    for level in LEVELS
    for field in RULES
}
