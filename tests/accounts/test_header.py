"""The page header: the search box keeps the query on the results page; an operator is not
invited to "Become a seller"; members find their dashboard."""

from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from app.accounts.services import hash_password
from tenants.db import db

PASSWORD = "correct-horse-battery"


def test_the_search_box_keeps_the_query_on_the_results_page(tenant_client, acme):
    html = tenant_client("acme").get("/search?q=logo+design").get_data(as_text=True)
    box = html.split('id="header-search-q"', 1)[1].split(">", 1)[0]
    assert 'value="logo design"' in box
    home = tenant_client("acme").get("/").get_data(as_text=True)
    assert 'value=""' in home.split('id="header-search-q"', 1)[1].split(">", 1)[0]


def test_an_operator_is_not_offered_to_become_a_seller(web, tenant_client, acme, make_user, in_tenant):
    with in_tenant(acme):
        admin = db.session.scalar(sa.select(User).where(User.role == "admin"))
        admin.password_hash = hash_password(PASSWORD)
        email = admin.email
        db.session.commit()
    operator = tenant_client("acme")
    web.login(operator, email, PASSWORD)
    page = operator.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="become-seller-link"' not in page and 'data-testid="console-link"' in page

    make_user(acme, email="member@example.com", password=PASSWORD)
    member = tenant_client("acme")
    web.login(member, "member@example.com", PASSWORD)
    page = member.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="become-seller-link"' in page and 'data-testid="dashboard-link"' in page
