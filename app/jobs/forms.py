"""Web forms of the job pages. Forms check shape only; ``to_data`` turns the fields into the
dict the services take (amounts typed as "1,500.00" become minor units through app.core.money)."""

from __future__ import annotations

from wtforms import BooleanField, MultipleFileField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.core import money
from app.core.domain_errors import DomainError
from app.core.forms import Form
from app.jobs import attachments
from app.jobs.models import (
    BUDGET_TYPES,
    DURATIONS,
    EXPERIENCE_LEVELS,
    MAX_JOB_ATTACHMENTS,
    MAX_PROPOSAL_ATTACHMENTS,
)
from app.jobs.services import DURATION_LABELS, EXPERIENCE_LABELS
from app.storage.uploads import Upload, read_uploads


def _minor(raw: str | None, currency: str, field: str, errors: dict):
    try:
        return money.parse_optional(raw, currency)
    except money.MoneyError as exc:
        errors[field] = str(exc)
        return None


def _int(raw: str | None):
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return raw  # the service refuses it with its own message


class FilesMixin:
    """A multiple file input ``files`` (multipart forms), described with the types and limits."""

    files = MultipleFileField("Attachments")

    def describe_files(self, limit: int) -> None:
        self.files.description = attachments.hint(limit)
        self.files.render_kw = {"accept": attachments.accept()}

    def uploads(self) -> list[Upload]:
        """The chosen files, each read to one byte past the per-file limit (enough to refuse it)."""
        return read_uploads(self.files.data or [], attachments.max_bytes())


class AttachmentsForm(FilesMixin, Form):
    """Add files to a job or a proposal (the page sets the count in ``describe_files``)."""

    files = MultipleFileField("Add files")


class JobForm(FilesMixin, Form):
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    category_id = SelectField("Category", choices=[], validate_choice=False)
    description = TextAreaField("Description (Markdown)", validators=[Optional(), Length(max=12000)])
    skills = StringField(
        "Skills", description="Comma-separated, up to 15.", validators=[Optional(), Length(max=800)]
    )
    budget_type = SelectField(
        "Budget",
        choices=[SelectChoice("fixed", "Fixed price"), SelectChoice("hourly", "Hourly")],
        validate_choice=False,
    )
    budget_min = StringField("Lowest budget", validators=[Optional(), Length(max=20)])
    budget_max = StringField("Highest budget", validators=[Optional(), Length(max=20)])
    rate_min = StringField("Lowest hourly rate", validators=[Optional(), Length(max=20)])
    rate_max = StringField("Highest hourly rate", validators=[Optional(), Length(max=20)])
    hours_per_week = StringField("Hours per week", validators=[Optional(), Length(max=4)])
    duration = SelectField(
        "Expected duration",
        choices=[SelectChoice(d, DURATION_LABELS[d]) for d in DURATIONS],
        validate_choice=False,
    )
    experience_level = SelectField(
        "Experience level",
        choices=[SelectChoice(e, EXPERIENCE_LABELS[e]) for e in EXPERIENCE_LEVELS],
        default="intermediate",
        validate_choice=False,
    )
    invite_only = BooleanField("Invite only (not listed publicly)")
    nda_required = BooleanField("An NDA is required")
    ip_assignment = BooleanField("Intellectual property is assigned to me", default=True)
    screening_questions = TextAreaField(
        "Screening questions", description="One per line, up to 5.", validators=[Optional(), Length(max=2000)]
    )

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.describe_files(MAX_JOB_ATTACHMENTS)
        self.category_id.choices = [SelectChoice("", "No category")] + [
            SelectChoice(str(i), label) for i, label in categories
        ]

    def to_data(self, currency: str) -> dict:
        errors: dict[str, str] = {}
        fixed = self.budget_type.data == "fixed"
        data = {
            "title": self.title.data,
            "description": self.description.data,
            "category_id": _int(self.category_id.data),
            "skills": self.skills.data or "",
            "budget_type": self.budget_type.data if self.budget_type.data in BUDGET_TYPES else None,
            "budget_min_minor": _minor(self.budget_min.data, currency, "budget_min_minor", errors)
            if fixed
            else None,
            "budget_max_minor": _minor(self.budget_max.data, currency, "budget_max_minor", errors)
            if fixed
            else None,
            "rate_min_minor": None
            if fixed
            else _minor(self.rate_min.data, currency, "rate_min_minor", errors),
            "rate_max_minor": None
            if fixed
            else _minor(self.rate_max.data, currency, "rate_max_minor", errors),
            "hours_per_week": None if fixed else _int(self.hours_per_week.data),
            "duration": self.duration.data,
            "experience_level": self.experience_level.data,
            "visibility": "invite_only" if self.invite_only.data else "public",
            "nda_required": bool(self.nda_required.data),
            "ip_assignment": bool(self.ip_assignment.data),
            "screening_questions": [
                q for q in (self.screening_questions.data or "").splitlines() if q.strip()
            ],
        }
        if errors:
            raise DomainError(errors)
        return data

    ALIASES = {
        "budget_min_minor": "budget_min",
        "budget_max_minor": "budget_max",
        "rate_min_minor": "rate_min",
        "rate_max_minor": "rate_max",
        "visibility": "invite_only",
    }


class ProposalForm(FilesMixin, Form):
    cover_letter = TextAreaField("Cover letter", validators=[Optional(), Length(max=6000)])
    price = StringField("Total price (fixed) or hourly rate", validators=[Optional(), Length(max=20)])
    milestones = TextAreaField(
        "Milestones (fixed price)",
        description="One per line: title | amount | due in days. Leave empty for one milestone.",
        validators=[Optional(), Length(max=3000)],
    )
    delivery_days = StringField("Estimated delivery (days)", validators=[Optional(), Length(max=4)])
    answers = TextAreaField("Answers", validators=[Optional(), Length(max=12000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.describe_files(MAX_PROPOSAL_ATTACHMENTS)

    def to_data(self, job, answers: list[str]) -> dict:
        errors: dict[str, str] = {}
        data: dict = {
            "cover_letter": self.cover_letter.data,
            "delivery_days": _int(self.delivery_days.data),
            "answers": answers,
        }
        price = _minor(
            self.price.data,
            job.currency,
            "total_minor" if job.budget_type == "fixed" else "rate_minor",
            errors,
        )
        if job.budget_type == "fixed":
            data["total_minor"] = price
            milestones = []
            for i, line in enumerate(row for row in (self.milestones.data or "").splitlines() if row.strip()):
                parts = [p.strip() for p in line.split("|")]
                amount = _minor(
                    parts[1] if len(parts) > 1 else "", job.currency, f"milestones.{i}.amount_minor", errors
                )
                milestones.append(
                    {
                        "title": parts[0],
                        "amount_minor": amount,
                        "due_in_days": _int(parts[2]) if len(parts) > 2 else None,
                    }
                )
            data["milestones"] = milestones
        else:
            data["rate_minor"] = price
        if errors:
            raise DomainError(errors)
        return data


class DeclineForm(Form):
    message = TextAreaField("Message (optional)", validators=[Optional(), Length(max=1000)])
