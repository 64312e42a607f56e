"""Demo hourly contract, workroom and code links (issue #17), seeded after the jobs and disputes
(``seed_hourly(slug)``, once per tenant, while it has no hourly contract), through the services
with the dates of the story:

- the printed buyer (``people.BUYERS[0]``) hires the printed seller by the hour (45.00 an hour
  in the marketplace's currency, 30 hours a week, weeks in Europe/Berlin) two weeks ago on
  Monday; the client's sandbox card is saved;
- the first week: 35 hours logged (over the limit: 30 billed), closed on Monday, approved by
  the client on Tuesday, charged and paid to the freelancer minus commission;
- the second week: 22 hours, closed this Monday, waiting for the client's review;
- this week: the days gone so far;
- the workroom: tasks on the board (some linked from time entries), a weekly stand-up and a
  sprint review, a spec file; the repository ``gigforge-demo/booking-api`` linked to the hourly
  contract with an open pull request and its green checks;
- the printed buyer's active fixed contract (``app/demo/jobs.py``: milestone 1 submitted with a
  pull request link) gets ``gigforge-demo/booking-tool`` linked, and GitHub-style signed
  webhooks mark that pull request merged with its checks passed: the milestone shows it.

Outbox events are settled like the jobs' ones (notifications and system messages about history
skipped). One transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time as timer
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.accounts.models import User
from app.demo import people
from tenants.db import db

ZONE = "Europe/Berlin"
CARD = "4242 4242 4242 4242"
HOURLY_REPO = "gigforge-demo/booking-api"
TASKS = [
    ("Availability endpoint", "done", "freelancer"),
    ("Weekly calendar view", "doing", "freelancer"),
    ("Reminder emails", "todo", "freelancer"),
    ("Review the booking flow copy", "todo", "client"),
    ("Load test with 500 bookings", "todo", None),
]
# (weekday, start, end, memo, task index or None) of a working day.
WEEK_ONE = [
    (0, "09:00", "12:30", "Kick-off call and repository setup", None),
    (0, "13:30", "17:00", "Data model for bookings and availability", 0),
    (1, "09:00", "13:00", "Availability endpoint", 0),
    (1, "14:00", "17:00", "Endpoint tests", 0),
    (2, "09:00", "12:00", "Weekly calendar view: layout", 1),
    (2, "13:00", "17:00", "Weekly calendar view: drag to book", 1),
    (3, "09:00", "13:00", "Time zones and daylight saving", 1),
    (3, "14:00", "17:00", "Fixes from the client's review", None),
    (4, "09:00", "13:00", "Performance pass", None),
    (4, "14:00", "16:00", "Hand-over notes", None),
]
WEEK_TWO = [
    (0, "09:30", "13:00", "Calendar view: keyboard support", 1),
    (1, "09:00", "12:00", "Calendar view: mobile layout", 1),
    (1, "13:00", "16:00", "Reminder emails: templates", 2),
    (2, "09:00", "13:00", "Reminder emails: scheduling", 2),
    (3, "10:00", "14:30", "Bug fixes and the stand-up", None),
    (4, "09:00", "13:00", "Load-test preparation", 4),
]
THIS_WEEK = [
    (0, "09:00", "12:00", "Stand-up, then the load test", 4),
    (1, "09:00", "11:30", "Load-test results and fixes", 4),
    (2, "09:00", "12:30", "Reminder emails: time zones", 2),
]
SPEC = (
    b"# Booking API: scope for the hourly engagement\n\n"
    b"- Availability and bookings endpoints (JSON, paginated)\n"
    b"- Weekly calendar view with drag to book\n"
    b"- Reminder emails 24 h and 1 h before a class\n"
)


@dataclass
class HourlyReport:
    entries: int = 0
    timesheets: int = 0
    tasks: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"an hourly contract ({self.entries} time entries, {self.timesheets} timesheets, "
            f"{self.tasks} tasks) in {self.seconds:.1f} s"
        )


def _signed_delivery(secret: str, event: str, delivery: str, payload: dict) -> tuple[dict, bytes]:
    """Headers and body as GitHub sends them (``X-Hub-Signature-256``: HMAC-SHA256 of the body)."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    return headers, body


def _github_pr(secret: str, repo: str, number: int, title: str, author: str, merged: bool, when: datetime):
    """A pull request and its checks (lint, tests), reported by signed webhooks."""
    from app.code import services as code

    sha = hashlib.sha1(f"{repo}#{number}".encode()).hexdigest()  # noqa: S324  (a commit id, not security)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    pr = {
        "number": number,
        "title": title,
        "html_url": f"https://github.com/{repo}/pull/{number}",
        "state": "closed" if merged else "open",
        "merged": merged,
        "merged_at": stamp if merged else None,
        "updated_at": stamp,
        "user": {"login": author},
        "head": {"sha": sha, "ref": f"feature/{number}"},
    }
    repository = {"full_name": repo}
    deliveries = [
        (
            "pull_request",
            {"action": "closed" if merged else "opened", "pull_request": pr, "repository": repository},
        )
    ]
    for i, name in enumerate(("lint", "tests"), 1):
        deliveries.append(
            (
                "check_run",
                {
                    "action": "completed",
                    "check_run": {
                        "id": number * 100 + i,
                        "name": name,
                        "head_sha": sha,
                        "status": "completed",
                        "conclusion": "success",
                        "completed_at": stamp,
                        "html_url": f"https://github.com/{repo}/actions/runs/{number * 100 + i}",
                        "output": {"title": f"{name.title()} passed"},
                        "pull_requests": [{"number": number, "head": {"sha": sha}}],
                    },
                    "repository": repository,
                },
            )
        )
    for i, (event, payload) in enumerate(deliveries):
        headers, body = _signed_delivery(secret, event, f"demo-{repo}-{number}-{i}", payload)
        code.receive_webhook("github", headers, body, now=when)


def seed_hourly(
    slug: str, *, seller_email: str | None = None, now: datetime | None = None
) -> HourlyReport | None:
    """Add the bound tenant's demo hourly contract, workroom and code links when it has no hourly
    contract; commits once. Returns the report, or None when nothing was done."""
    from app.code import services as code
    from app.contracts import services as contracts
    from app.contracts.models import Contract
    from app.core import money
    from app.demo.jobs import DEMO_REPO, INLINE_HANDLERS, SKIPPED_PREFIXES, _Clock
    from app.demo.orders import _settle_events
    from app.events.models import OutboxEvent
    from app.hourly import services as hourly
    from app.orders.models import Order
    from app.orders.services import marketplace_currency
    from app.payments import billing
    from app.storage.uploads import Upload
    from app.workroom import board, calendar, files

    started = timer.perf_counter()
    if db.session.scalar(sa.select(Contract.id).where(Contract.payment_model == "hourly").limit(1)):
        return None
    if db.session.scalar(sa.select(Contract.id).limit(1)) is None:
        return None  # no jobs story (too few demo sellers): no hourly one either
    client = db.session.scalar(
        sa.select(User).where(User.email == f"{people.BUYERS[0][1]}@{slug}.test", User.status == "active")
    )
    freelancer = (
        db.session.scalar(sa.select(User).where(User.email == seller_email)) if seller_email else None
    )
    if client is None or freelancer is None or freelancer.seller_profile is None:
        return None
    now = now or datetime.now(UTC)
    tz = ZoneInfo(ZONE)
    this_monday = hourly.monday(now.astimezone(tz).date())
    first_monday = this_monday - timedelta(days=14)

    def local(day: date, clock: str) -> datetime:
        return datetime.combine(day, time.fromisoformat(clock), tzinfo=tz).astimezone(UTC)

    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0)))
    stamp = _Clock()
    report = HourlyReport()
    currency = marketplace_currency()
    rate = money.to_minor(Decimal(45), currency)

    hired = local(first_monday, "08:00")
    contract = contracts.direct_offer(
        client,
        freelancer.id,
        {
            "payment_model": "hourly",
            "title": "Booking API: backend by the hour",
            "scope": "Build and look after the booking tool's API: availability, bookings, the weekly "
            "calendar and reminder emails, with tests and a weekly hand-over.",
            "rate_minor": rate,
            "weekly_cap_hours": 30,
            "timezone": ZONE,
            "message": "Weekly stand-ups on Mondays; log your hours against the board's tasks.",
        },
        now=hired - timedelta(days=2),
    )
    contracts.accept_offer(freelancer, contract.id, now=hired - timedelta(days=1))
    contracts.sign(freelancer, contract.id, freelancer.display_name, now=hired - timedelta(hours=20))
    contracts.sign(client, contract.id, client.display_name, now=hired)
    stamp.stamp(hired)
    billing.save_sandbox_card(client, CARD, f"12/{(now.year + 4) % 100:02d}", "123", today=hired.date())

    tasks = []
    for title, status, who in TASKS:
        assignee = {"client": client.id, "freelancer": freelancer.id}.get(who)
        task = board.create_task(
            client if who == "client" else freelancer,
            contract.id,
            {"title": title, "status": status, "assignee_id": assignee},
            now=hired + timedelta(hours=1),
        )
        tasks.append(task)
    report.tasks = len(tasks)

    def log(week: date, rows) -> None:
        for weekday, start, end, memo, task in rows:
            day = week + timedelta(days=weekday)
            ended = local(day, end)
            if ended > now:
                continue
            hourly.log_time(
                freelancer,
                contract.id,
                {
                    "work_date": day.isoformat(),
                    "start": start,
                    "end": end,
                    "memo": memo,
                    "task_id": tasks[task].id if task is not None else None,
                },
                now=ended + timedelta(minutes=20),
            )
            report.entries += 1

    log(first_monday, WEEK_ONE)
    closed = local(first_monday + timedelta(days=7), "01:00")
    first = hourly.close_week(contract.id, first_monday, now=closed)
    hourly.approve(client, first.id, now=local(first_monday + timedelta(days=8), "10:15"))
    stamp.stamp(local(first_monday + timedelta(days=8), "10:15"))
    log(first_monday + timedelta(days=7), WEEK_TWO)
    second = hourly.close_week(
        contract.id, first_monday + timedelta(days=7), now=min(now, local(this_monday, "01:00"))
    )
    log(this_monday, THIS_WEEK)
    report.timesheets = sum(1 for s in (first, second) if s is not None)

    calendar.create_event(
        freelancer,
        contract.id,
        {
            "title": "Weekly stand-up",
            "kind": "standup",
            "starts_at": f"{first_monday.isoformat()}T10:00",
            "ends_at": f"{first_monday.isoformat()}T10:15",
            "timezone": ZONE,
            "recurrence": "weekly",
            "remind_minutes": 15,
        },
        now=hired + timedelta(hours=2),
    )
    review_day = this_monday + timedelta(days=3)
    calendar.create_event(
        client,
        contract.id,
        {
            "title": "Sprint review: calendar and reminders",
            "kind": "meeting",
            "starts_at": f"{review_day.isoformat()}T16:00",
            "ends_at": f"{review_day.isoformat()}T17:00",
            "timezone": ZONE,
            "remind_minutes": 60,
        },
        now=hired + timedelta(hours=3),
    )
    files.upload_file(
        client,
        contract.id,
        Upload("booking-api-scope.md", "text/markdown", SPEC),
        now=hired + timedelta(hours=1),
    )

    # The repository of the hourly contract: an open pull request with green checks.
    _link, secret = code.link_repo(
        freelancer, contract.id, "github", HOURLY_REPO, now=hired + timedelta(hours=4)
    )
    _github_pr(
        secret,
        HOURLY_REPO,
        14,
        "Reminder emails with time zones",
        freelancer.handle or "freelancer",
        False,
        min(now, local(this_monday + timedelta(days=2), "12:40")),
    )

    # The printed buyer's active fixed contract: its milestone 1 submission names PR 7, merged, green.
    fixed = db.session.scalars(
        sa.select(Contract)
        .join(Order, Order.id == Contract.order_id)
        .where(
            Contract.client_id == client.id,
            Contract.payment_model == "fixed",
            Contract.status == "active",
            Order.status == "in_progress",
        )
        .order_by(Contract.id)
    ).first()
    if fixed is not None:
        worker = db.session.get(User, fixed.freelancer_id)
        linked = max(fixed.activated_at or now - timedelta(days=3), now - timedelta(days=3))
        _link, fixed_secret = code.link_repo(worker, fixed.id, "github", DEMO_REPO, now=linked)
        _github_pr(
            fixed_secret,
            DEMO_REPO,
            7,
            "Booking calendar and payments",
            worker.handle or "dev",
            True,
            now - timedelta(hours=27),
        )

    db.session.flush()
    _settle_events(watermark, inline=INLINE_HANDLERS, skip=lambda key: key.startswith(SKIPPED_PREFIXES))
    db.session.commit()
    report.seconds = timer.perf_counter() - started
    return report
