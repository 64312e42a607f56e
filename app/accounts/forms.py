"""Web forms of the accounts pages (Flask-WTF: every form carries a CSRF token).

Forms check shape only (required, lengths); the rules (unique email, strong
password, valid handle...) live in services and come back as AccountError,
which the views put on the matching fields with ``app.core.domain_errors.refuse_form``.
"""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError

from app.accounts.models import AVAILABILITIES
from app.accounts.services import AccountError, validate_email_address, validate_password
from app.core import money
from app.core.forms import Form
from app.core.reference import COUNTRIES

AVAILABILITY_LABELS = {
    "full_time": "Full time",
    "part_time": "Part time",
    "occasional": "Occasionally",
    "unavailable": "Not available",
}


def _service_rule(check):
    """A WTForms validator running a service's rule, so every field's problem shows at once."""

    def validator(form, field):
        try:
            check(form, field.data)
        except AccountError as exc:
            raise ValidationError(next(iter(exc.errors.values()))) from None

    return validator


class SignupForm(Form):
    display_name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=80)])
    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email address."),
            _service_rule(lambda form, value: validate_email_address(value)),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Choose a password."),
            _service_rule(lambda form, value: validate_password(value, form.email.data)),
        ],
        description="At least 10 characters. Avoid common passwords and your email address.",
    )
    handle = StringField(
        "Handle (optional)",
        validators=[Optional(), Length(max=30)],
        description="Your public address: /u/<handle>. We pick one from your name if you leave it empty.",
    )


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me logged in on this device")
    next = HiddenField()


class ForgotPasswordForm(Form):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."), Length(max=254)])


class ResetPasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired("Choose a password.")])
    confirm = PasswordField(
        "Repeat the new password", validators=[EqualTo("password", "The two passwords do not match.")]
    )


class ChangePasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your password.")])
    password = PasswordField("New password", validators=[DataRequired("Choose a password.")])
    confirm = PasswordField(
        "Repeat the new password", validators=[EqualTo("password", "The two passwords do not match.")]
    )


class ChangeEmailForm(Form):
    new_email = EmailField("New email", validators=[DataRequired("Enter the new address."), Length(max=254)])
    password = PasswordField("Current password", validators=[DataRequired("Enter your password.")])


class ProfileForm(Form):
    display_name = StringField("Display name", validators=[DataRequired("Enter your name."), Length(max=80)])
    handle = StringField("Handle", validators=[DataRequired("Choose a handle."), Length(max=30)])
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "—")]
        + [SelectChoice(code, name) for code, name in sorted(COUNTRIES.items(), key=lambda item: item[1])],
        validate_choice=False,  # the service checks it and says so on the field
    )
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)])
    languages = StringField(
        "Languages",
        validators=[Optional(), Length(max=200)],
        description="Language codes separated by commas, like: en, fr, es",
    )
    bio = TextAreaField("Short bio", validators=[Optional(), Length(max=500)])


class AvatarForm(Form):
    avatar = FileField("Profile picture", description="JPEG, PNG, GIF or WebP. It is cropped to a square.")


class SellerProfileForm(Form):
    headline = StringField("Headline", validators=[DataRequired("Write a headline."), Length(max=120)])
    description = TextAreaField("About your services", validators=[Optional(), Length(max=5000)])
    skills = StringField(
        "Skills",
        validators=[Optional(), Length(max=1000)],
        description="Separate skills with commas, like: logo design, branding, illustration",
    )
    hourly_rate = StringField("Hourly rate", validators=[Optional(), Length(max=12)])
    availability = SelectField(
        "Availability",
        choices=[SelectChoice(value, AVAILABILITY_LABELS[value]) for value in AVAILABILITIES],
        validate_choice=False,
    )

    def hourly_rate_minor(self, currency: str) -> int | None:
        """The rate in minor units (None when left empty); raises money.MoneyError with a message.
        The range is the service's to judge (as for the API)."""
        return money.parse_optional(self.hourly_rate.data, currency, allow_negative=True)


class PortfolioItemForm(Form):
    title = StringField("Title", validators=[DataRequired("Give the item a title."), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=1000)])
    link = URLField("Link", validators=[Optional(), Length(max=500)])
    image = FileField("Image")


class ConfirmForm(Form):
    """A button that only needs the CSRF token (log out, delete an item, resend, export)."""


class DeleteAccountForm(Form):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password.")])
    confirm = BooleanField(
        "I understand that my account and profile are deleted for good",
        validators=[InputRequired("Tick the box to confirm.")],
    )


# --------------------------------------------------------------------------- two-factor sign-in

_CODE_RENDER = {"inputmode": "text", "autocomplete": "one-time-code", "spellcheck": "false"}


class TwoFactorLoginForm(Form):
    code = StringField(
        "Code",
        validators=[DataRequired("Enter the code from your authenticator app."), Length(max=32)],
        description="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        render_kw=_CODE_RENDER,
    )
    remember_device = BooleanField("Remember this device for 30 days")


class TwoFactorCodeForm(Form):
    """Confirm an enrolment, or get new recovery codes: one fresh code."""

    code = StringField(
        "Code from your app",
        validators=[DataRequired("Enter the 6-digit code from your authenticator app."), Length(max=32)],
        render_kw={**_CODE_RENDER, "inputmode": "numeric"},
    )


class TwoFactorDisableForm(Form):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password.")])
    code = StringField(
        "Code from your app (or a recovery code)",
        validators=[DataRequired("Enter the code from your authenticator app."), Length(max=32)],
        render_kw=_CODE_RENDER,
    )
