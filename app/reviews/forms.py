"""Web forms of the review pages (Flask-WTF: each carries a CSRF token).

The forms check shape only (and, through ``app.core.forms.Form``, control characters): the
services judge ratings, text, reasons and every rule, so the web gives the same messages as
the API, and ``refuse_form`` puts them back on the inputs of the same names.
"""

from __future__ import annotations

from wtforms import HiddenField, RadioField, SelectChoice, SelectField, TextAreaField

from app.core.forms import Form
from app.reviews.models import RATING_MAX, RATING_MIN
from app.reviews.services import REPORT_REASON_LABELS, SUB_RATING_LABELS, SUB_RATINGS

STAR_CHOICES = [
    SelectChoice(str(n), f"{n} star{'s' if n != 1 else ''}") for n in range(RATING_MIN, RATING_MAX + 1)
]


def _stars(label: str) -> RadioField:
    # validate_choice off: "0", "6" or "x" reach the service, which names the allowed range.
    return RadioField(label, choices=STAR_CHOICES, validate_choice=False)


class SellerReviewForm(Form):
    """The seller's review of the buyer: a rating and text."""

    rating = _stars("Overall rating")
    text = TextAreaField("Your review")

    def review_data(self) -> dict:
        return {name: self[name].data for name in self.review_fields()}

    @classmethod
    def review_fields(cls) -> tuple[str, ...]:
        return ("rating", "text")


class BuyerReviewForm(SellerReviewForm):
    """The buyer's review of the seller: adds the three sub-ratings."""

    communication = _stars(SUB_RATING_LABELS["communication"])
    as_described = _stars(SUB_RATING_LABELS["as_described"])
    would_recommend = _stars(SUB_RATING_LABELS["would_recommend"])

    @classmethod
    def review_fields(cls) -> tuple[str, ...]:
        return ("rating", *SUB_RATINGS, "text")


def review_form_class(direction: str) -> type[SellerReviewForm]:
    """The form of a review in ``direction`` (``of_seller``: written by the buyer)."""
    return BuyerReviewForm if direction == "of_seller" else SellerReviewForm


class ReplyForm(Form):
    """The reviewed side's one public reply."""

    text = TextAreaField("Your public reply")


class ReportForm(Form):
    """Report a published review to the moderators."""

    reason = SelectField(
        "Reason",
        choices=[SelectChoice("", "Choose a reason")]
        + [SelectChoice(value, label) for value, label in REPORT_REASON_LABELS.items()],
        validate_choice=False,
    )
    details = TextAreaField("Details (optional)")
    next = HiddenField()


class HelpfulForm(Form):
    """The "Helpful" button: ``helpful`` "1" adds the member's vote, "0" takes it back."""

    helpful = HiddenField(default="1")
    next = HiddenField()
