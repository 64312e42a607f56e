"""The console dashboard: figures that match the ledger and the orders for a period and the one
before it, the time series and top categories, the SVG charts on the page, the period selector's
refusals (web and API), a handful of aggregate queries, and tenants that never meet."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.console.dashboard import kpis
from app.console.dashboard.views import axis_value, chart_axis
from app.gigs.models import Category, Gig
from app.ledger.models import LedgerTransaction
from app.orders.models import Order
from app.settings.models import MarketplaceSettings
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, BASIC, PREMIUM, STANDARD, drive


def _shift(order_id: int, days: int) -> None:
    """Move an order and its money ``days`` into the past (tenant bound; commits)."""
    delta = sa.text(f"interval '{int(days)} days'")
    db.session.execute(
        sa.update(Order)
        .where(Order.id == order_id)
        .values(created_at=Order.created_at - delta, paid_at=Order.paid_at - delta)
    )
    db.session.execute(
        sa.update(LedgerTransaction)
        .where(LedgerTransaction.order_id == order_id)
        .values(created_at=LedgerTransaction.created_at - delta)
    )
    db.session.commit()


def _business(in_tenant, tenant, s):
    """A week of business and an older order: returns the ids."""
    from app.console.operations import orders

    with in_tenant(tenant):
        old = drive(s, "completed", tier="premium")
        _shift(old, 10)
        done = drive(s, "completed")
        working = drive(s, "in_progress", tier="standard")
        unpaid = drive(s, "awaiting_payment")
        refunded = drive(s, "in_progress")
        orders.cancel_order(db.session.get(User, s.admin_id), refunded, 2000, "Half refund agreed")
        db.session.commit()
        return {"old": old, "done": done, "working": working, "unpaid": unpaid, "refunded": refunded}


def _top_category_name(gig_id: int) -> str:
    gig = db.session.get(Gig, gig_id)
    category = db.session.get(Category, gig.category_id)
    return (category.parent or category).name


def test_figures_of_the_last_7_days_against_the_week_before(acme, shop, in_tenant):
    s = shop(acme)
    _business(in_tenant, acme, s)
    with in_tenant(acme):
        board = kpis.dashboard("7d")
        f = board.figures
        assert board.currency == "USD"
        assert (f["gmv"].value, f["gmv"].previous) == (BASIC + STANDARD + BASIC, PREMIUM)
        assert f["gmv"].change_pct == -12.0
        assert (f["refunds"].value, f["refunds"].previous) == (2000, 0)
        # commission: 10 % of the completed basic order and of the 3000 released on the partial refund
        assert (f["commission"].value, f["commission"].previous) == (500 + 300, 2500)
        assert (f["orders"].value, f["orders"].previous) == (4, 1)
        assert (f["paid_orders"].value, f["paid_orders"].previous) == (3, 1)
        assert f["average_order"].value == (BASIC + STANDARD + BASIC) // 3
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        assert (f["new_users"].value, f["new_users"].previous) == (users, 0)
        assert f["new_users"].change_pct is None
        assert (f["active_sellers"].value, f["active_sellers"].previous) == (1, 1)
        assert {c.status: c.count for c in board.orders_by_status} == {
            "awaiting_payment": 1,
            "awaiting_requirements": 0,
            "in_progress": 1,
            "delivered": 0,
            "completed": 1,
            "cancelled": 1,
        }
        (top,) = board.top_categories
        assert (top.name, top.gmv_minor, top.orders) == (_top_category_name(s.gig_id), 22000, 3)
        assert board.period.granularity == "day" and len(board.series) == 7
        today = datetime.now(UTC).date()
        assert board.series[-1].day == today
        assert (board.series[-1].gmv_minor, board.series[-1].orders) == (22000, 4)
        assert sum(p.gmv_minor for p in board.series) == f["gmv"].value
        assert sum(p.commission_minor for p in board.series) == f["commission"].value
        assert sum(p.new_users for p in board.series) == users


def test_longer_periods_include_the_older_order_and_compare_with_nothing(acme, shop, in_tenant):
    s = shop(acme)
    ids = _business(in_tenant, acme, s)
    with in_tenant(acme):
        board = kpis.dashboard("30d")
        assert board.figures["gmv"].value == PREMIUM + BASIC + STANDARD + BASIC
        assert board.figures["gmv"].previous == 0 and board.figures["gmv"].change_pct is None
        assert board.figures["orders"].value == 5
        ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).date()
        point = next(p for p in board.series if p.day == ten_days_ago)
        assert (point.gmv_minor, point.orders, point.commission_minor) == (PREMIUM, 1, 2500)
        quarter = kpis.dashboard("90d")
        assert quarter.period.granularity == "week"
        assert sum(p.gmv_minor for p in quarter.series) == quarter.figures["gmv"].value == 47000
        year = kpis.dashboard("12m")
        assert year.period.granularity == "month" and len(year.series) == 12
        assert year.figures["gmv"].value == 47000
        # a custom range holding only the older order's day
        only_old = kpis.dashboard(None, ten_days_ago.isoformat(), ten_days_ago.isoformat())
        assert only_old.period.key == "custom"
        assert only_old.figures["gmv"].value == PREMIUM and only_old.figures["orders"].value == 1
        assert only_old.figures["active_sellers"].value == 1
        assert db.session.get(Order, ids["old"]).status == "completed"


def test_money_in_another_currency_is_listed_apart(acme, shop, in_tenant):
    s = shop(acme)
    _business(in_tenant, acme, s)
    with in_tenant(acme):
        db.session.execute(sa.update(MarketplaceSettings).values(currency="EUR"))
        db.session.commit()
        board = kpis.dashboard("7d")
        assert board.currency == "EUR"
        assert board.figures["gmv"].value == 0 and board.top_categories == []
        assert board.other_currencies == {"USD": 22000}


def test_the_dashboard_runs_a_handful_of_aggregate_queries(acme, shop, in_tenant):
    s = shop(acme)
    _business(in_tenant, acme, s)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with in_tenant(acme):
        db.session.scalar(sa.select(sa.literal(1)))  # open the transaction first
        engine = db.session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            kpis.dashboard("90d")
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    # nine for the marketplace's figures, two for the disputes' (their series; the domain's figures)
    assert 5 <= len(statements) <= 11, statements


def test_periods_presets_custom_ranges_and_refusals():
    today = date(2024, 3, 15)
    week = kpis.resolve_period("7d", today=today)
    assert (week.first_day, week.last_day) == (date(2024, 3, 9), today)
    assert (week.previous_first_day, week.previous_last_day) == (date(2024, 3, 2), date(2024, 3, 8))
    assert kpis.resolve_period(None, today=today).key == "30d"
    year = kpis.resolve_period("12m", today=today)
    assert (year.first_day, year.previous_first_day, year.previous_last_day) == (
        date(2023, 4, 1),
        date(2022, 4, 1),
        date(2023, 3, 15),
    )
    assert [b.isoformat() for b in kpis.buckets(year)][:2] == ["2023-04-01", "2023-05-01"]
    assert len(kpis.buckets(year)) == 12 and kpis.bucket_label(date(2023, 4, 1), "month") == "Apr 2023"
    custom = kpis.resolve_period(None, "2024-01-01", "2024-03-01", today=today)
    assert (custom.days, custom.granularity) == (61, "day")
    assert (custom.previous_first_day, custom.previous_last_day) == (date(2023, 11, 1), date(2023, 12, 31))
    assert kpis.resolve_period(None, "2023-12-01", "2024-03-01", today=today).granularity == "week"
    assert kpis.resolve_period(None, "2021-01-01", "2024-01-01", today=today).granularity == "month"
    assert kpis.buckets(kpis.resolve_period(None, "2024-03-13", "2024-03-14", today=today)) == [
        date(2024, 3, 13),
        date(2024, 3, 14),
    ]
    for args, field, message in (
        (("1y", None, None), "period", "Choose one of"),
        ((None, "2024-01-01", None), "to", "last day of the range too"),
        ((None, None, "2024-01-01"), "from", "first day of the range too"),
        ((None, "2024-02-30", "2024-03-01"), "from", "not a real date"),
        ((None, "01/02/2024", "2024-03-01"), "from", "must be a date like"),
        ((None, "2024-03-02", "2024-03-01"), "to", "on or after the first day"),
        ((None, "1999-12-31", "2000-01-05"), "from", "before 2000-01-01"),
        ((None, "2024-03-01", "2024-04-01"), "to", "future"),
        ((None, "2018-01-01", "2024-01-01"), "to", "at most"),
    ):
        try:
            kpis.resolve_period(*args, today=today)
        except kpis.KpiError as exc:
            assert field in exc.errors and message in exc.errors[field], (args, exc.errors)
        else:
            raise AssertionError(f"{args} was accepted")


def test_chart_axis_and_labels():
    assert chart_axis([0, 0], "count") == {"top": 1, "ticks": [0, 1]}
    assert chart_axis([], "money") == {"top": 100, "ticks": [0, 100]}
    assert chart_axis([0, 22000, 4700], "money") == {"top": 30000, "ticks": [0, 10000, 20000, 30000]}
    assert chart_axis([1234], "money") == {"top": 1500, "ticks": [0, 500, 1000, 1500]}
    counts = chart_axis([3, 7], "count")
    assert all(isinstance(t, int) for t in counts["ticks"]) and counts["top"] >= 7
    assert axis_value(150000, "money", "USD") == "1.5k"
    assert axis_value(2500, "money", "USD") == "25"
    assert axis_value(2500, "money", "USD", exact=True) == "$25.00"
    assert axis_value(2_000_000, "count") == "2M"


# --------------------------------------------------------------------------- over HTTP


def test_dashboard_page_shows_tiles_with_changes_and_accessible_svg_charts(acme, shop, in_tenant, web_as):
    s = shop(acme)
    _business(in_tenant, acme, s)
    for client in (web_as(acme, s.admin_email, ADMIN_PASSWORD), web_as(acme, s.moderator_email)):
        response = client.get("/console/?period=7d")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert 'data-testid="kpi-gmv" data-value="22000" data-previous="25000"' in html
        assert "$220.00" in html and "-12.0%" in html and "badge-bad" in html
        assert 'data-testid="kpi-commission" data-value="800" data-previous="2500"' in html
        for chart in ("chart-gmv", "chart-orders", "chart-status", "chart-categories", "chart-users"):
            assert f'role="img" aria-labelledby="{chart}-title {chart}-desc" data-testid="{chart}"' in html
            assert f'<title id="{chart}-title">' in html and f'data-testid="{chart}-data"' in html
        assert '<path class="line"' in html and '<rect class="bar"' in html
        assert "style=" not in html.split('<section class="console-main">')[1]  # CSP: no inline styles
        assert 'aria-current="true">Last 7 days' in html
    default = web_as(acme, s.admin_email, ADMIN_PASSWORD).get("/console/")
    assert default.status_code == 200 and "Last 30 days" in default.get_data(as_text=True)


def test_bad_periods_are_refused_on_the_form_with_the_default_period_shown(acme, shop, web_as):
    s = shop(acme)
    admin = web_as(acme, s.admin_email, ADMIN_PASSWORD)
    for query, message in (
        ("period=forever", "Choose one of 7d, 30d, 90d, 12m"),
        ("from=2024-05-02&to=2024-05-01", "on or after the first day"),
        ("from=2024-05-01", "last day of the range too"),
        ("from=2024-02-30&to=2024-03-01", "not a real date"),
    ):
        response = admin.get(f"/console/?{query}")
        assert response.status_code == 422, query
        html = response.get_data(as_text=True)
        assert message in html, query
        assert 'data-testid="kpi-gmv"' in html and "Last 30 days" in html


def test_dashboard_api(acme, shop, in_tenant, api_as):
    s = shop(acme)
    _business(in_tenant, acme, s)
    client, headers = api_as(acme, s.moderator_email)
    response = client.get("/api/v1/console/dashboard?period=7d", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    figures = {f["key"]: f for f in body["figures"]}
    assert figures["gmv"] == {
        "key": "gmv",
        "label": "GMV",
        "value": 22000,
        "previous": 25000,
        "kind": "money",
        "change_pct": -12.0,
    }
    assert figures["refunds"]["value"] == 2000 and figures["new_users"]["change_pct"] is None
    assert body["period"]["key"] == "7d" and body["period"]["granularity"] == "day"
    assert len(body["series"]) == 7 and body["series"][-1]["gmv_minor"] == 22000
    assert {c["status"]: c["count"] for c in body["orders_by_status"]}["cancelled"] == 1
    assert body["top_categories"][0]["gmv_minor"] == 22000 and body["currency"] == "USD"

    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    custom = client.get(f"/api/v1/console/dashboard?from={ten_days_ago}&to={ten_days_ago}", headers=headers)
    assert custom.status_code == 200 and custom.json["period"]["key"] == "custom"
    assert {f["key"]: f["value"] for f in custom.json["figures"]}["gmv"] == PREMIUM

    for query, field in (
        ("period=1y", "period"),
        ("from=2024-05-01", "to"),
        ("from=2024-05-02&to=2024-05-01", "to"),
        ("from=nope&to=2024-05-01", "from"),
    ):
        refused = client.get(f"/api/v1/console/dashboard?{query}", headers=headers)
        assert refused.status_code == 422, query
        assert field in refused.json["errors"]["query"], (query, refused.json)


def test_each_tenant_sees_only_its_own_figures(acme, globex, shop, in_tenant, api_as, tenant_client):
    a = shop(acme)
    shop(globex)
    _business(in_tenant, acme, a)
    with in_tenant(globex):
        board = kpis.dashboard("30d")
        assert board.figures["gmv"].value == 0 and board.figures["orders"].value == 0
        assert board.top_categories == []
    g_client, g_headers = api_as(globex, "mod@globex.test")
    globex_view = g_client.get("/api/v1/console/dashboard?period=30d", headers=g_headers).json
    assert {f["key"]: f["value"] for f in globex_view["figures"]}["gmv"] == 0
    # acme's token is nobody on globex's host
    _client, a_headers = api_as(acme, a.admin_email, ADMIN_PASSWORD)
    assert tenant_client("globex").get("/api/v1/console/dashboard", headers=a_headers).status_code == 401


def test_money_on_every_shard_and_on_the_unsharded_rows_counts_as_one_account(
    app, acme, in_tenant, monkeypatch
):
    """Clearing and commission are kept on shard rows (plus the unsharded row an existing tenant
    still has): GMV, refunds and commission read them all as one account, and only them."""
    from app.ledger import services as ledger
    from app.ledger.models import LedgerAccount
    from tests.ledger.test_hot_shards import SHARDS, payment_ref, ref_on, release_order

    monkeypatch.setitem(app.config, "LEDGER_HOT_SHARDS", SHARDS)
    with in_tenant(acme):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.commission_bps, settings.commission_min_fee_minor = 1000, 0
        db.session.commit()
        # Paid in before the shards: on the unsharded rows, as the code then wrote them.
        old = release_order(7, start=500)
        ledger.record_payment(old, old, 5, 9_000, "USD", "pi_old")
        db.session.commit()
        ledger.release_escrow(old, old, 6, 9_000, "USD")
        db.session.commit()
        for code in (ledger.CLEARING, ledger.COMMISSION):
            db.session.execute(
                sa.update(LedgerAccount)
                .where(LedgerAccount.code.in_(ledger.account_codes(code)[1:]))
                .values(code=code, allow_negative=False)
            )
        db.session.commit()
        # Since: payments and releases on different shards, a refund on another one.
        for order, shard in ((1, 1), (2, 5)):
            ledger.record_payment(order, order, 5, 10_000, "USD", payment_ref(shard))
            db.session.commit()
        for order in (release_order(2, start=100), release_order(6, start=100)):
            ledger.record_payment(order, order, 5, 4_000, "USD", f"pi_{order}")
            db.session.commit()
            ledger.release_escrow(order, order, 6, 4_000, "USD")
            db.session.commit()
        ledger.refund_escrow(1, 1, 5, 3_000, "USD", f"re_{ref_on(4, lambda n: f'refund:re_{n}')}")
        db.session.commit()
        codes = set(
            db.session.scalars(
                sa.select(LedgerAccount.code).where(
                    LedgerAccount.code.in_(ledger.account_codes(ledger.CLEARING))
                )
            )
        )
        assert len(codes) >= 4 and ledger.CLEARING in codes  # the unsharded row and three shards at least

        f = kpis.dashboard("7d").figures
        assert f["gmv"].value == 9_000 + 2 * 10_000 + 2 * 4_000
        assert f["refunds"].value == 3_000
        assert f["commission"].value == 900 + 2 * 400
        assert ledger.account_balance(ledger.COMMISSION, "USD") == 900 + 2 * 400
        assert ledger.verify().ok
