"""Web forms of the payments pages (the rules are in services)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"}


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


def parse_major_amount(text: str, currency: str) -> int | None:
    """ "12.50" -> 1250 minor units, exactly; None when it is not an amount with the currency's decimals."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    try:
        value = Decimal((text or "").strip().replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        return None
    return int(minor)
