from tests.orders.conftest import make_gig, market  # noqa: F401  (fixtures)
from tests.webhooks.conftest import deliver, receiver  # noqa: F401  (fixtures)
