"""Web forms of the payments pages (the rules are in services)."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.core.forms import Form


class TestCardForm(Form):
    card_number = StringField(
        "Card number", validators=[DataRequired("Enter the card number."), Length(max=30)]
    )
    expiry = StringField("Expiry (MM/YY)", validators=[DataRequired("Enter the expiry date."), Length(max=7)])
    cvc = StringField("CVC", validators=[DataRequired("Enter the security code."), Length(max=4)])


class AuthenticateForm(Form):
    """Approve or fail the test second step (the pressed button's name says which)."""


class PayoutForm(Form):
    amount = StringField("Amount", validators=[DataRequired("Enter an amount."), Length(max=20)])


class OnboardForm(Form):
    """Start (or resume) the payout account set-up."""


class VerifyIdentityForm(Form):
    """Start the sandbox's simulated identity verification."""
