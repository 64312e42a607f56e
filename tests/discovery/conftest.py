"""Fixtures of the discovery tests (home page, featured gigs, recently viewed): see home_kit.py."""

from tests.discovery.home_kit import add_gig, shop  # noqa: F401  (fixtures for every module here)
from tests.gigs.conftest import make_gig  # noqa: F401
