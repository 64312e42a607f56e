"""The API suite's kit: the orders' market (a seller with a gig, a buyer, a stranger, an admin)
and the payments' Stripe emulator, shared by the partner-coverage tests."""

from tests.orders.conftest import api_token, make_gig, market  # noqa: F401  (fixtures)
from tests.payments.conftest import stripe_emulator, use_stripe  # noqa: F401  (fixtures)
