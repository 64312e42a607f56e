"""Web forms of the payments pages (the rules are in services)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class TestCardForm(FlaskForm):
    card_number = StringField(
        "Card number", validators=[DataRequired("Enter the card number."), Length(max=30)]
    )
    expiry = StringField("Expiry (MM/YY)", validators=[DataRequired("Enter the expiry date."), Length(max=7)])
    cvc = StringField("CVC", validators=[DataRequired("Enter the security code."), Length(max=4)])


class AuthenticateForm(FlaskForm):
    """Approve or fail the test second step (the pressed button's name says which)."""


class PayoutForm(FlaskForm):
    amount = StringField("Amount", validators=[DataRequired("Enter an amount."), Length(max=20)])


class OnboardForm(FlaskForm):
    """Start (or resume) the payout account set-up."""
