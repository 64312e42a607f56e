"""Web forms of the jobs area. They carry the input only: the rules (a template's fields and
milestones, the weights' range, the reason's length) are the jobs domain's, for web and API
alike. ``TemplateForm.to_data`` turns the inputs into the dict the services take and says which
form row each milestone came from (blank rows are left out), so a refusal lands on its input.
"""

from __future__ import annotations

from wtforms import FieldList, Form, FormField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.console.jobs.reads import status_label
from app.core.forms import Form as PageForm
from app.jobs import services
from app.jobs.models import DURATIONS, JOB_STATUSES, MATCHING_TERMS, MAX_MILESTONES
from app.jobs.settings import TERMS


class JobFilterForm(PageForm):
    """The job list's filters (a GET form: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search")
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s, status_label(s)) for s in JOB_STATUSES],
        validate_choice=False,  # the filter check names an unknown status
    )
    date_from = StringField("Posted from", name="from", render_kw={"type": "date"})
    date_to = StringField("Posted to", name="to", render_kw={"type": "date"})


class CloseJobForm(PageForm):
    reason = TextAreaField(
        "Why the job is closed",
        description=f"The client reads this reason. {services.CLOSE_REASON_MIN} to "
        f"{services.CLOSE_REASON_MAX:,} characters; kept in the audit log.",
        validators=[Length(max=5000)],
    )


class ConfirmActionForm(PageForm):
    """A button that only needs the CSRF token (hide, show, move a template)."""


class MilestoneForm(Form):
    """One milestone of a template (a subform: the page's form carries the CSRF token)."""

    title = StringField("Title", validators=[Optional(), Length(max=500)])
    deliverable = StringField("Deliverable", validators=[Optional(), Length(max=1000)])
    dod = TextAreaField(
        "Definition of Done", description="One item per line.", validators=[Optional(), Length(max=5000)]
    )
    share_percent = StringField("Share (%)", validators=[Optional(), Length(max=10)])

    def is_blank(self) -> bool:
        return not any(
            (f.data or "").strip() for f in (self.title, self.deliverable, self.dod, self.share_percent)
        )


class TemplateForm(PageForm):
    name = StringField("Name", description="Shown to clients; a job from it is titled “<name> project”.")
    summary = StringField("Summary", description="One line under the name in the template picker.")
    scope = TextAreaField("Scope", description="What the work is: it opens the job's description.")
    skills = StringField("Skills", description="Comma-separated, up to 15; they pre-fill the job's skills.")
    budget_type = SelectField(
        "Budget type",
        choices=[SelectChoice("fixed", "Fixed price"), SelectChoice("hourly", "Hourly")],
        validate_choice=False,
    )
    duration = SelectField(
        "Expected duration",
        choices=[SelectChoice("", "Not set")]
        + [SelectChoice(d, services.DURATION_LABELS[d]) for d in DURATIONS],
        validate_choice=False,
    )
    milestones = FieldList(FormField(MilestoneForm), min_entries=1, max_entries=MAX_MILESTONES)

    def add_blank_rows(self, extra: int = 2) -> None:
        """Room for more milestones (up to the maximum)."""
        for _ in range(extra):
            if len(self.milestones.entries) >= MAX_MILESTONES:
                break
            self.milestones.append_entry()

    def to_data(self) -> tuple[dict, dict[str, str]]:
        """``(data for the services, aliases)``: the aliases map ``milestones.<i>.<field>`` (the
        i-th non-blank row) to the input's id (``milestones-<row>-<field>``)."""
        rows, aliases = [], {}
        for row, entry in enumerate(self.milestones.entries):
            sub = entry.form
            if sub.is_blank():
                continue
            i = len(rows)
            for name in ("title", "deliverable", "dod", "share_percent"):
                aliases[f"milestones.{i}.{name}"] = f"milestones-{row}-{name}"
            aliases[f"milestones.{i}"] = f"milestones-{row}-title"
            share = (sub.share_percent.data or "").strip().rstrip("%").strip()
            rows.append(
                {
                    "title": sub.title.data or "",
                    "deliverable": sub.deliverable.data or "",
                    "dod": sub.dod.data or "",
                    "share_percent": int(share) if share.isdigit() and len(share) < 6 else (share or None),
                }
            )
        data = {
            "name": self.name.data or "",
            "summary": self.summary.data or "",
            "scope": self.scope.data or "",
            "skills": self.skills.data or "",
            "budget_type": self.budget_type.data,
            "duration": self.duration.data or None,
            "milestones": rows,
        }
        return data, aliases

    @classmethod
    def for_template(cls, template) -> TemplateForm:
        """The form filled from a saved template, with room for two more milestones."""
        form = cls(
            formdata=None,
            data={
                "name": template.name,
                "summary": template.summary,
                "scope": template.scope,
                "skills": ", ".join(template.skills),
                "budget_type": template.budget_type,
                "duration": template.duration or "",
                "milestones": [
                    {
                        "title": m.get("title", ""),
                        "deliverable": m.get("deliverable", ""),
                        "dod": "\n".join(m.get("dod", [])),
                        "share_percent": str(m.get("share_percent", "")),
                    }
                    for m in template.milestones
                ],
            },
        )
        form.add_blank_rows()
        return form


class WeightsForm(PageForm):
    skill_match = StringField(TERMS["skill_match"][0], validators=[Length(max=20)])
    portfolio_fit = StringField(TERMS["portfolio_fit"][0], validators=[Length(max=20)])
    reviews = StringField(TERMS["reviews"][0], validators=[Length(max=20)])
    delivery_score = StringField(TERMS["delivery_score"][0], validators=[Length(max=20)])
    availability = StringField(TERMS["availability"][0], validators=[Length(max=20)])

    def to_data(self) -> dict[str, str]:
        return {term: self[term].data or "" for term in MATCHING_TERMS}
