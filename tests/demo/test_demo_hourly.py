"""Demo hourly contract, workroom and code links (``app.demo.hourly.seed_hourly``), seeded small
into the suite's acme tenant: two weeks of time (one billed, one waiting for the client), the
board, the calendar, a file, a linked repository with a PR and green checks, and the active
fixed contract's PR merged on its submitted milestone; the ledger verifies."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.code.models import CiRun, PullRequest, RepoLink
from app.contracts.models import Contract
from app.demo import people
from app.demo.seed import DEMO_TENANTS, seed_demo
from app.hourly.models import TimeEntry, Timesheet
from app.ledger.verify import verify
from app.orders.models import Order
from app.workroom.models import WorkroomEvent, WorkroomFile, WorkroomTask
from tenants.db import db

SELLERS, GIGS = 4, 2


@pytest.fixture
def seeded(app, search_index_dir):
    with app.app_context():
        return seed_demo(
            sellers_per_tenant=SELLERS, gigs_per_tenant=GIGS, orders_per_tenant=0, tenants=[DEMO_TENANTS[0]]
        )


def test_demo_hourly_contract_its_workroom_and_code(seeded, in_tenant, acme, tenant_client):
    line = next(line for line in seeded if line.startswith("acme: added"))
    assert re.search(r"an hourly contract \(\d+ time entries, 2 timesheets, 5 tasks\)", line), line
    with in_tenant(acme):
        contract = db.session.scalars(sa.select(Contract).where(Contract.payment_model == "hourly")).one()
        client = db.session.get(people_user(), contract.client_id)
        assert client.email == f"{people.BUYERS[0][1]}@acme.test"
        sheets = list(db.session.scalars(sa.select(Timesheet).order_by(Timesheet.week_start)))
        assert [s.status for s in sheets] == ["billed", "submitted"]
        assert sheets[0].minutes_logged > sheets[0].minutes_billable == 30 * 60  # over the limit
        order = db.session.get(Order, contract.order_id)
        assert order.open_ended and order.status == "in_progress"
        assert [m.status for m in order.milestones] == ["paid"]
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(TimeEntry).where(TimeEntry.task_id.isnot(None))
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkroomTask)) == 5
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkroomEvent)) == 2
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkroomFile)) == 1
        links = {link.full_name: link for link in db.session.scalars(sa.select(RepoLink))}
        assert set(links) == {"gigforge-demo/booking-api", "gigforge-demo/booking-tool"}
        prs = {pr.number: pr for pr in db.session.scalars(sa.select(PullRequest))}
        assert (prs[14].state, prs[7].state) == ("open", "merged")
        assert {r.status for r in db.session.scalars(sa.select(CiRun))} == {"passed"}
        fixed = db.session.get(Contract, links["gigforge-demo/booking-tool"].contract_id)
        assert fixed.payment_model == "fixed" and fixed.status == "active"
        verify()
    # The client sees the merged PR and its checks under the submitted milestone.
    web = tenant_client("acme")
    from tests.helpers import login

    login(web, f"{people.BUYERS[0][1]}@acme.test", "demo-password-2026")
    page = web.get(f"/contracts/{fixed.id}").get_data(as_text=True)
    assert "Booking calendar and payments" in page and "merged" in page.lower()
    assert "2 checks passed" in page


def people_user():
    from app.accounts.models import User

    return User
