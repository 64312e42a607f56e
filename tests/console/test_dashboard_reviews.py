"""The console dashboard's review figures: reviews published in the period (still published) and
the average rating buyers gave sellers, against the previous period, per day in the series, as a
tile, two charts and in the API. Review times come from the injected clock of the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.console.dashboard import kpis
from app.reviews import services
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, login, token
from tests.console.review_kit import BACK, GOOD, drive, user


def _review_pair(m, order_id, buyer_rating, seller_rating, at):
    """Both sides review the order at ``at``: they publish together, ``published_at = at``."""
    mine = services.submit_review(user(m.buyer_id), order_id, {**GOOD, "rating": buyer_rating}, now=at)
    services.submit_review(user(m.seller_id), order_id, {**BACK, "rating": seller_rating}, now=at)
    return mine


def _seed(acme, completed, in_tenant):
    """In the last 7 days: buyers rated 5 (yesterday) and 2 (today), a 1 two days ago that a
    moderator hid; sellers rated buyers 4, 5 and 3. Ten days ago (the previous 7 days): 4 and 3."""
    m, first = completed(acme)
    now = datetime.now(UTC)
    with in_tenant(acme):
        orders = [first] + [drive(m, "completed") for _ in range(3)]
        _review_pair(m, orders[0], 5, 4, now - timedelta(days=1))
        _review_pair(m, orders[1], 2, 5, now)
        hidden = _review_pair(m, orders[2], 1, 3, now - timedelta(days=2))
        _review_pair(m, orders[3], 4, 3, now - timedelta(days=10))
        services.hide_review(user(m.admin_id), hidden.id, "Not about this order")
        db.session.commit()
    return m, now.date()


def test_reviews_published_and_the_average_rating_of_the_period(acme, completed, in_tenant):
    _m, today = _seed(acme, completed, in_tenant)
    with in_tenant(acme):
        board = kpis.dashboard("7d", today=today)
    reviews = board.figures["reviews"]
    assert (reviews.value, reviews.previous) == (5, 2)  # the hidden one is left out
    assert board.rating.average == Decimal("3.50") and board.rating.count == 2
    assert board.rating.previous == Decimal("4.00") and board.rating.previous_count == 1
    assert board.rating.change == Decimal("-0.50")
    by_day = {p.day: p for p in board.series}
    assert (by_day[today].reviews, by_day[today].average_rating) == (2, Decimal("2.00"))
    yesterday = by_day[today - timedelta(days=1)]
    assert (yesterday.reviews, yesterday.average_rating) == (2, Decimal("5.00"))
    two_days = by_day[today - timedelta(days=2)]
    assert (two_days.reviews, two_days.average_rating) == (1, None)  # only the seller's review is left
    assert sum(p.reviews for p in board.series) == reviews.value
    quiet = by_day[today - timedelta(days=4)]
    assert (quiet.reviews, quiet.average_rating) == (0, None)


def test_a_period_without_reviews_has_no_average(acme, in_tenant):
    with in_tenant(acme):
        board = kpis.dashboard("30d")
    assert board.figures["reviews"].value == 0
    assert (board.rating.average, board.rating.previous, board.rating.change) == (None, None, None)
    assert all(p.average_rating is None for p in board.series)


def test_the_page_shows_the_rating_tile_and_the_review_charts(acme, completed, in_tenant, tenant_client):
    _seed(acme, completed, in_tenant)
    admin = login(tenant_client("acme"), "admin@acme.test", ADMIN_PASSWORD)
    html = admin.get("/console/?period=7d").get_data(as_text=True)
    tile = html.split('data-testid="kpi-average_rating"')[1].split('<div class="kpi"')[0]
    assert 'data-value="3.50"' in tile and 'data-previous="4.00"' in tile
    assert "3.50" in tile and "▼ -0.50" in tile and "from 2 buyer reviews" in tile
    assert 'data-testid="kpi-reviews" data-value="5" data-previous="2"' in html
    assert 'data-testid="chart-reviews"' in html and 'data-testid="chart-rating"' in html
    rating_numbers = html.split('data-testid="chart-rating-data"')[1].split("</table>")[0]
    assert "5.00" in rating_numbers and "2.00" in rating_numbers and "–" in rating_numbers
    # A gap, not a zero: the rating line has a point per day with reviews and no shaded area.
    rating_svg = html.split('data-testid="chart-rating"')[1].split("</svg>")[0]
    assert rating_svg.count("<circle") == 2 and "line-area" not in rating_svg


def test_the_api_gives_the_rating_and_the_reviews_per_day(acme, globex, completed, in_tenant, tenant_client):
    _m, today = _seed(acme, completed, in_tenant)
    client = tenant_client("acme")
    headers = token(client, "admin@acme.test", ADMIN_PASSWORD)
    body = client.get("/api/v1/console/dashboard?period=7d", headers=headers).json
    assert body["rating"] == {
        "average": 3.5,
        "previous": 4.0,
        "count": 2,
        "previous_count": 1,
        "change": -0.5,
    }
    assert {f["key"]: (f["value"], f["previous"]) for f in body["figures"]}["reviews"] == (5, 2)
    last = body["series"][-1]
    assert (last["day"], last["reviews"], last["average_rating"]) == (today.isoformat(), 2, 2.0)
    # globex, with equal ids in its own schema, has no reviews at all
    g_client = tenant_client("globex")
    g_body = g_client.get(
        "/api/v1/console/dashboard?period=7d", headers=token(g_client, "admin@globex.test", ADMIN_PASSWORD)
    ).json
    assert g_body["rating"]["average"] is None and g_body["rating"]["count"] == 0
    assert {f["key"]: f["value"] for f in g_body["figures"]}["reviews"] == 0
