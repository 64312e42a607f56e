"""Web forms of the resolution centre (Flask-WTF: each carries a CSRF token).

The forms check shape only (and, through ``app.core.forms.Form``, control characters): the
services judge reasons, texts, links, files, amounts and every rule, so the web gives the same
messages as the API, and ``refuse_form`` puts them back on the inputs of the same names
(``statement``, ``reason``, ``text``, ``url``, ``files``, ``message_id``, ``body``,
``refund_minor`` / ``release_minor`` on the amount boxes ``refund`` / ``release``...).
"""

from __future__ import annotations

from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.forms import Form
from app.disputes.models import REASON_LABELS, REASONS
from app.storage.uploads import read_uploads

# The service's field names -> the web form's inputs (amounts are typed in major units).
AMOUNT_ALIASES = {"refund_minor": "refund", "release_minor": "release", "currency": "refund"}


class FilesMixin:
    def uploads(self, max_bytes: int):
        return read_uploads(self.files.data or [], max_bytes)


class OpenDisputeForm(FilesMixin, Form):
    """Open a dispute: the milestone (a contract's or a multi-milestone offer's), a reason, the
    statement and optional first files."""

    milestone_id = SelectField("Milestone", choices=[], validate_choice=False)
    reason = SelectField(
        "Reason",
        choices=[SelectChoice("", "Choose a reason")] + [SelectChoice(r, REASON_LABELS[r]) for r in REASONS],
        validate_choice=False,
    )
    statement = TextAreaField(
        "Your statement",
        description="What went wrong, and what you would consider fair. Both sides and the "
        "marketplace's mediators read it.",
    )
    files = MultipleFileField("Files (optional, up to 5)")


class NoteForm(Form):
    kind = HiddenField(default="note")
    text = TextAreaField("Note")


class LinkForm(Form):
    kind = HiddenField(default="link")
    url = StringField("Address (https://…)")
    text = StringField("What it shows (optional)")


class FileEvidenceForm(FilesMixin, Form):
    kind = HiddenField(default="file")
    files = MultipleFileField("Files (up to 5)")
    text = StringField("What they show (optional)")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class MessageEvidenceForm(Form):
    """Quote messages of the order's conversation (picked, never retyped)."""

    kind = HiddenField(default="message")
    message_id = MultiCheckboxField("Messages", choices=[], validate_choice=False)


class DodForm(Form):
    kind = HiddenField(default="dod")
    text = StringField("Comment (optional)")


class PullRequestEvidenceForm(Form):
    """A pull request of the contract's linked repositories (app.code), picked."""

    kind = HiddenField(default="pr")
    pull_request_id = SelectField("Pull request", choices=[], validate_choice=False)
    text = StringField("What it shows (optional)")


class CiRunEvidenceForm(Form):
    """A CI run of the contract's linked repositories, picked."""

    kind = HiddenField(default="ci")
    ci_run_id = SelectField("CI run", choices=[], validate_choice=False)
    text = StringField("What it shows (optional)")


EVIDENCE_FORMS = {
    "note": NoteForm,
    "link": LinkForm,
    "file": FileEvidenceForm,
    "message": MessageEvidenceForm,
    "dod": DodForm,
    "pr": PullRequestEvidenceForm,
    "ci": CiRunEvidenceForm,
}


class MessageForm(Form):
    body = TextAreaField("Message")


class ProposalForm(Form):
    """Release all, refund all, or a split typed in the currency's major units (one box may stay
    empty: it is the rest of what is held)."""

    way = RadioField(
        "Your proposal",
        choices=[
            SelectChoice("release", "Release everything to the seller"),
            SelectChoice("refund", "Refund everything to the buyer"),
            SelectChoice("split", "Split it"),
        ],
        default="split",
        validate_choice=False,
    )
    refund = StringField("Back to the buyer")
    release = StringField("To the seller")
    message = TextAreaField("Message (optional)")


class AnswerForm(Form):
    accept = HiddenField()


class EscalateForm(Form):
    reason = TextAreaField("Why (optional)")


class WithdrawForm(Form):
    pass


class AssessmentForm(Form):
    assessment = TextAreaField("Your assessment")
