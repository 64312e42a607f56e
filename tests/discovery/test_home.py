"""The marketplace home page: featured gigs (else the best rated), popular categories with a
picture, top sellers, newest gigs, recent jobs, and for a signed-in buyer "Recently viewed" and
"Because you viewed"; the empty marketplace's welcome. The tenant's part is cached in Redis per
tenant and generation; the commits of what it shows renew the generation (a tenant-cache stamp),
and so do their events' handlers (run by ``run_jobs``).
"""

from __future__ import annotations

import json

from sqlalchemy import event as sa_event

from app.accounts.models import User
from app.accounts.services import set_seller_reputation
from app.core import tenant_cache
from app.discovery import featured, home
from app.gigs import categories
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.settings.services import update_branding
from tenants.db import db
from tests.discovery.home_kit import login, post_job
from tests.helpers import statements_of

LOGO = "I will design a modern minimalist logo"
CARDS = "I will design your business cards"
ICON = "I will draw a flat icon set for apps"
SITE = "I will build a fast landing page website"


def page(tenant_client, slug="acme", client=None) -> str:
    response = (client or tenant_client(slug)).get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(html: str, testid: str) -> str:
    """The HTML of the section with ``data-testid=testid`` (up to its closing tag)."""
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</section>", start)]


def set_featured(in_tenant, tenant, ids):
    with in_tenant(tenant):
        featured.set_featured(None, ids)
        db.session.commit()


def redis(app):
    return app.extensions["redis"]


# --------------------------------------------------------------------------- featured


def test_featured_gigs_lead_the_home_page_and_follow_the_operators_changes(
    app, acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.site, s.icon])
    run_jobs()
    row = section(page(tenant_client), "featured")
    assert row.index(SITE) < row.index(ICON) and LOGO not in row

    set_featured(in_tenant, acme, [s.logo])
    # The commit of home.changed renewed the generation: the next page computes afresh, before
    # discovery's handler runs (it renews it once more).
    row = section(page(tenant_client), "featured")
    assert LOGO in row and SITE not in row and ICON not in row
    run_jobs()
    row = section(page(tenant_client), "featured")
    assert LOGO in row and SITE not in row and ICON not in row


def test_without_featured_gigs_the_best_rated_ones_show(acme, tenant_client, in_tenant, shop, run_jobs):
    s = shop(acme)
    with in_tenant(acme):
        gig_services.set_gig_rating(s.icon, 4.9, 12)
        gig_services.set_gig_rating(s.cards, 4.2, 30)
        db.session.commit()
    run_jobs()
    html = page(tenant_client)
    assert 'data-testid="featured"' not in html
    row = section(html, "top-rated")
    assert "Top rated gigs" in row
    assert row.index(CARDS) < row.index(ICON) < row.index(SITE)  # most reviewed first, then newest


def test_a_paused_featured_gig_disappears_at_once_and_for_good(
    acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    assert SITE in section(page(tenant_client), "featured")
    with in_tenant(acme):
        gig_services.pause_gig(db.session.get(User, s.bob), db.session.get(Gig, s.site))
        db.session.commit()
    # Before any event is handled: the cached ids are loaded fresh and the paused one dropped.
    html = page(tenant_client)
    assert SITE not in html and LOGO in section(html, "featured")
    run_jobs()
    html = page(tenant_client)
    assert SITE not in html and LOGO in section(html, "featured")


def test_when_every_featured_gig_is_paused_the_best_rated_fill_in(
    acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.site])
    with in_tenant(acme):
        gig_services.pause_gig(db.session.get(User, s.bob), db.session.get(Gig, s.site))
        db.session.commit()
    run_jobs()
    html = page(tenant_client)
    assert 'data-testid="featured"' not in html and LOGO in section(html, "top-rated")


# --------------------------------------------------------------------------- other sections


def test_popular_categories_show_a_picture_and_their_gig_counts(
    acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    run_jobs()
    tiles = section(page(tenant_client), "popular-categories")
    with in_tenant(acme):
        logo_gig = db.session.get(Gig, s.logo)
        first_top = logo_gig.category.parent
        second_top = db.session.get(Gig, s.site).category.parent
    assert tiles.index(f"category-tile-{first_top.slug}") < tiles.index(f"category-tile-{second_top.slug}")
    first = tiles[
        tiles.index(f"category-tile-{first_top.slug}") : tiles.index(f"category-tile-{second_top.slug}")
    ]
    assert "<img " in first and "3 gigs" in first  # the logo gig's cover; three live gigs
    second = tiles[tiles.index(f"category-tile-{second_top.slug}") :]
    assert "<img " not in second.split("</li>")[0] and "1 gig<" in second


def test_top_sellers_are_ranked_by_level_then_rating(acme, tenant_client, in_tenant, shop, run_jobs):
    s = shop(acme)
    with in_tenant(acme):
        set_seller_reputation(s.bob, level="top_rated", rating=(4.8, 20))
        set_seller_reputation(s.ada, level="level_1", rating=(5.0, 3))
        db.session.commit()
    run_jobs()
    sellers = section(page(tenant_client), "top-sellers")
    assert sellers.index("Bob Builder") < sellers.index("Ada Designer")
    assert "Top Rated" in sellers or "top_rated" in sellers
    assert "Betty Buyer" not in sellers  # not a seller


def test_newest_gigs_and_recent_jobs(acme, tenant_client, in_tenant, shop, run_jobs, make_user):
    shop(acme)
    html = page(tenant_client)
    newest = section(html, "newest")
    assert newest.index(SITE) < newest.index(LOGO)  # published last, shown first
    assert 'data-testid="recent-jobs"' not in html  # no open job: no section

    client_id = make_user(acme, email="client@example.com")
    job_id = post_job(in_tenant, acme, client_id, "Build a booking tool for yoga studios")
    run_jobs()
    jobs = section(page(tenant_client), "recent-jobs")
    assert f'data-testid="home-job-{job_id}"' in jobs and "Build a booking tool for yoga studios" in jobs


def test_recently_viewed_and_because_you_viewed_for_a_signed_in_buyer(
    app, acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    run_jobs()
    buyer = login(tenant_client("acme"), "buyer@example.com")
    html = page(tenant_client, client=buyer)
    assert 'data-testid="home-recently-viewed"' not in html and 'data-testid="because-you-viewed"' not in html

    with in_tenant(acme):
        slug = db.session.get(Gig, s.logo).slug
    assert buyer.get(f"/gigs/{slug}").status_code == 200  # the gig page records the view
    html = page(tenant_client, client=buyer)
    assert LOGO in section(html, "home-recently-viewed")
    because = section(html, "because-you-viewed")
    assert f'Because you viewed <a class="home-because-title" href="/gigs/{slug}">{LOGO}</a>' in because
    assert CARDS in because and ICON in because and SITE not in because
    # Kept now: the tenant's cards, the recently viewed and the suggestions in one query.
    sent = statements_of(app, lambda: page(tenant_client, client=buyer))
    card_loads = [s for s in sent if "LEFT OUTER JOIN tenant_acme.gig_images" in s]
    assert len(card_loads) == 1, card_loads

    anonymous = page(tenant_client)
    assert 'data-testid="home-recently-viewed"' not in anonymous


def test_an_empty_marketplace_welcomes_its_first_sellers(acme, tenant_client):
    html = page(tenant_client)
    assert 'data-testid="home-empty"' in html
    assert 'data-testid="home-search"' in html and 'id="categories-heading"' in html
    for testid in ("featured", "top-rated", "newest", "top-sellers", "popular-categories", "recent-jobs"):
        assert f'data-testid="{testid}"' not in html


# --------------------------------------------------------------------------- cache


def test_the_cache_holds_ids_and_plain_values_under_the_tenants_generation(
    app, acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    run_jobs()
    page(tenant_client)
    generation = redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE)).decode()
    cached = json.loads(redis(app).get(f"t:{acme.id}:home:{generation}"))
    assert set(cached["newest"]) == {s.logo, s.cards, s.icon, s.site}
    assert cached["featured"] == [] and cached["jobs"] == []
    assert 0 < redis(app).ttl(f"t:{acme.id}:home:{generation}") <= home.HOME_TTL
    assert all(isinstance(tile["thumb_key"], str | None) for tile in cached["categories"])


def _selects(in_tenant, tenant, fetch) -> list[str]:
    statements = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    with in_tenant(tenant):
        engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        fetch()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return statements


def test_a_warm_home_page_costs_a_few_queries(acme, tenant_client, in_tenant, shop, run_jobs):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    client = tenant_client("acme")
    client.set_cookie("session", "x", domain="acme.localhost")  # a session: rendered every time
    page(tenant_client, client=client)  # warms the cache
    statements = _selects(in_tenant, acme, lambda: page(tenant_client, client=client))
    gig_loads = [q for q in statements if "FROM" in q and ".gigs" in q.split("FROM", 1)[1][:200]]
    assert len(gig_loads) == 1, gig_loads  # every card of the page in one query
    assert len(statements) <= 8, statements


def test_an_anonymous_visitor_gets_the_kept_page_with_a_nonce_of_its_own(
    acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    first = tenant_client("acme").get("/")
    responses = []
    statements = _selects(in_tenant, acme, lambda: responses.append(tenant_client("acme").get("/")))
    tenant_statements = [q for q in statements if "tenant_acme." in q]
    assert tenant_statements == []  # the page was kept: no statement at all
    second = responses[0]
    nonces = [
        r.headers["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0] for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        assert f'nonce="{nonce}"' in response.get_data(as_text=True)
    assert first.get_data(as_text=True).replace(nonces[0], "N") == second.get_data(as_text=True).replace(
        nonces[1], "N"
    )


def test_a_page_one_process_rendered_is_served_by_another_from_redis(
    acme, tenant_client, in_tenant, shop, run_jobs, monkeypatch
):
    """Another process (this one with its kept pages forgotten) takes the page from Redis:
    no statement, no rendering, its own nonce; once the page expires there too, it renders."""
    from app.home import views

    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    clock = [1000.0]
    monkeypatch.setattr(views, "_clock", lambda: clock[0])
    first = tenant_client("acme").get("/")
    views.forget_anonymous_pages()  # "another process"
    rendered = []
    render = views._render
    monkeypatch.setattr(views, "_render", lambda *a: rendered.append(1) or render(*a))
    responses = []
    statements = _selects(in_tenant, acme, lambda: responses.append(tenant_client("acme").get("/")))
    assert [q for q in statements if "tenant_acme." in q] == [] and rendered == []
    nonces = [
        r.headers["Content-Security-Policy"].split("'nonce-", 1)[1].split("'", 1)[0]
        for r in (first, responses[0])
    ]
    assert nonces[0] != nonces[1] and f'nonce="{nonces[1]}"' in responses[0].get_data(as_text=True)
    second = responses[0].get_data(as_text=True)
    assert first.get_data(as_text=True).replace(nonces[0], "N") == second.replace(nonces[1], "N")
    clock[0] += views.ANONYMOUS_PAGE_TTL
    views.forget_anonymous_pages()
    assert tenant_client("acme").get("/").status_code == 200 and rendered == [1]


def test_a_kept_page_follows_a_gig_edited_or_paused_before_its_event_is_handled(
    acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    assert "Renamed at once" not in page(tenant_client)
    with in_tenant(acme):
        gig = db.session.get(Gig, s.logo)
        gig_services.update_gig(gig.seller, gig, {"title": "I will draw a logo, Renamed at once"})
        db.session.commit()
    # No job run: the commit that published gig.updated renewed the generation.
    assert "Renamed at once" in page(tenant_client)
    with in_tenant(acme):
        gig = db.session.get(Gig, s.logo)
        gig_services.pause_gig(gig.seller, gig)
        db.session.commit()
    assert "Renamed at once" not in page(tenant_client)


def test_a_change_committed_without_an_event_shows_within_the_kept_pages_ttl(
    acme, tenant_client, in_tenant, shop, run_jobs, monkeypatch
):
    """A write that publishes nothing (a script, a console SQL fix) reaches the kept anonymous
    page at its ``ANONYMOUS_PAGE_TTL`` at the latest (time injected: the page's clock)."""
    from app.home import views

    s = shop(acme)
    set_featured(in_tenant, acme, [s.logo, s.site])
    run_jobs()
    clock = [1000.0]
    monkeypatch.setattr(views, "_clock", lambda: clock[0])
    assert "Renamed quietly" not in page(tenant_client)
    with in_tenant(acme):
        db.session.get(Gig, s.logo).title = "Renamed quietly"
        db.session.commit()
    assert "Renamed quietly" not in page(tenant_client)  # the kept page, no event to renew it
    clock[0] += views.ANONYMOUS_PAGE_TTL
    assert "Renamed quietly" in page(tenant_client)


def test_category_and_branding_changes_refresh_the_home_page(
    app, acme, tenant_client, in_tenant, shop, run_jobs
):
    s = shop(acme)
    run_jobs()
    page(tenant_client)
    with in_tenant(acme):
        top = db.session.get(Gig, s.site).category.parent
        before = redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE))
        categories.update_category(top.id, name="Websites and Apps")
        db.session.commit()
    renewed = redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE))
    assert renewed != before  # at the commit, before any handler ran
    assert "Websites and Apps" in section(page(tenant_client), "popular-categories")
    run_jobs()
    assert redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE)) != renewed  # the handler
    with in_tenant(acme):
        before = redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE))
        update_branding(tagline="Handmade logos, fast")
        db.session.commit()
    assert redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE)) != before


def test_equal_ids_in_two_tenants_never_share_a_cached_home(
    app, acme, globex, tenant_client, in_tenant, shop, add_gig, run_jobs
):
    a, g = shop(acme), shop(globex)
    assert (a.logo, a.site) == (g.logo, g.site)  # the same ids in both schemas
    with in_tenant(globex):
        gig = db.session.get(Gig, g.site)
        gig_services.update_gig(
            db.session.get(User, g.bob), gig, {"title": "I will build a Globex only website"}
        )
        db.session.commit()
    set_featured(in_tenant, acme, [a.site])
    set_featured(in_tenant, globex, [g.logo])
    run_jobs()
    acme_home, globex_home = page(tenant_client, "acme"), page(tenant_client, "globex")
    assert SITE in section(acme_home, "featured") and LOGO not in section(acme_home, "featured")
    assert LOGO in section(globex_home, "featured") and "Globex only" not in section(globex_home, "featured")
    assert "Globex only" not in acme_home and "Globex only" in globex_home

    keys = {k.decode() for k in redis(app).keys("t:*:home:*")}
    assert any(k.startswith(f"t:{acme.id}:home:") for k in keys)
    assert any(k.startswith(f"t:{globex.id}:home:") for k in keys)
    # Bumping acme's generation leaves globex's cached home in place.
    globex_gen = redis(app).get(tenant_cache.stamp_key(globex, home.HOME_CACHE))
    acme_gen = redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE))
    with in_tenant(acme):
        home.bump_generation()
    assert redis(app).get(tenant_cache.stamp_key(acme, home.HOME_CACHE)) != acme_gen
    assert redis(app).get(tenant_cache.stamp_key(globex, home.HOME_CACHE)) == globex_gen
    assert redis(app).get(f"t:{globex.id}:home:{globex_gen.decode()}") is not None


def test_the_home_page_stays_up_when_redis_is_down(acme, tenant_client, in_tenant, shop, monkeypatch):
    import redis as redis_lib

    shop(acme)

    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise redis_lib.ConnectionError("down")

            return fail

    monkeypatch.setattr(home, "redis_store", type("Store", (), {"client": Down()})())
    html = page(tenant_client)
    assert LOGO in section(html, "newest")


def test_kept_pages_are_held_to_a_byte_budget_oldest_first(monkeypatch):
    """The process keeps pages up to ``ANONYMOUS_PAGES_BYTES`` characters together, whatever
    their count: past it the oldest go first (they wait in Redis); one page over the whole
    budget is never kept (nor pushes the others out); keeping a page again under its key
    replaces it."""
    from app.home import views

    views.forget_anonymous_pages()
    monkeypatch.setattr(views, "ANONYMOUS_PAGES_BYTES", 100)
    try:
        for n in range(4):
            views._keep(("t", n), (0.0, "m", "x" * 30))
        assert views.kept_pages() == (3, 90) and ("t", 0) not in views._pages
        views._keep(("t", 3), (0.0, "m", "y" * 50))  # the same key, a bigger page
        assert views.kept_pages() == (2, 80) and list(views._pages) == [("t", 2), ("t", 3)]
        views._keep(("t", "huge"), (0.0, "m", "z" * 101))
        assert views.kept_pages() == (2, 80)  # the others stay
        views._keep(("t", 5), (0.0, "m", "w" * 100))
        assert views.kept_pages() == (1, 100)
    finally:
        views.forget_anonymous_pages()
