"""Demo reviews: what buyers and sellers wrote about the demo's completed orders.

``seed_reviews(slug)`` runs after the demo orders (``app/demo/orders.py``), once per tenant
(while it has no reviews), and goes through the reviews services with the dates of the
story, so every rule holds as for real members and the gig and seller averages are kept by
the services themselves:

- each completed order's window (opened when its ``order.completed`` was settled) gets a
  fate: both sides review (they publish together, at the second review), one side only
  (published by ``publish_window`` at ``closes_at``, as the sweep would), or nobody;
- windows still open (orders completed in the last ``window_days``) keep some one-sided
  reviews unpublished, so the double-blind state shows on the order pages; the sweep will
  publish them (or remind the other side) when their time comes;
- buyers' ratings follow a per-seller profile (most sellers get mostly 4-5 stars, a few are
  uneven), with sub-ratings near the overall rating and fair words for low ratings;
- sellers review their buyers, reply to some reviews (more often to the critical ones), one
  seller reports a review (an open report for the console), other buyers vote "helpful";
- on a tenant whose spec holds banned words (``review_settings`` in ``DEMO_TENANTS``), the
  settings are saved first and one review with such a word waits for a moderator.

The outbox events of all this are settled like the orders' ones: the notifications'
handlers are skipped (no bells or emails about reviews of months ago), search's are left to
the one rebuild of the index that follows (``seed._settle_events``), any other handler is left
to the worker. One transaction: the tenant gets all of its demo reviews or none.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import SellerProfile, User
from app.core import money
from app.demo import people
from app.reviews import reputation
from app.reviews import settings as review_settings
from app.settings.services import get_branding
from tenants.db import db

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# What the demo operators ask of each level (see the console's Reputation page); earnings in
# major units of the marketplace's currency.
DEMO_LEVEL_THRESHOLDS = {
    "level_1": {"orders": 3, "earnings": 150, "rating": 4.3, "on_time_rate": 80, "days_active": 60},
    "level_2": {"orders": 5, "earnings": 800, "rating": 4.5, "on_time_rate": 85, "days_active": 120},
    "top_rated": {"orders": 8, "earnings": 1000, "rating": 4.8, "on_time_rate": 90, "days_active": 180},
}


def _demo_thresholds(currency: str) -> dict:
    unit = money.minor_unit(currency)
    return {
        level: {
            **{k: v for k, v in rule.items() if k != "earnings"},
            "earnings_minor": rule["earnings"] * unit,
        }
        for level, rule in DEMO_LEVEL_THRESHOLDS.items()
    }


# Handlers of review events that a demo of past months does not run: nobody is told today
# about a review written in spring. Search's are covered by the index rebuild that follows.
# The home cache is bumped once at the end; partners' webhooks are told no history.
SKIPPED_PREFIXES = ("app.notifications.", "app.discovery.events.", "app.webhooks.")

# How a seller's buyers rate them: most sellers are good, some excellent, a few uneven.
RATING_PROFILES = {
    "strong": {5: 85, 4: 12, 3: 3, 2: 0, 1: 0},
    "good": {5: 64, 4: 26, 3: 7, 2: 2, 1: 1},
    "uneven": {5: 42, 4: 30, 3: 14, 2: 8, 1: 6},
}
PROFILE_WEIGHTS = {"strong": 40, "good": 48, "uneven": 12}

# Fates of a window that has closed: (both, buyer only, seller only, nobody).
CLOSED_FATES = (("both", 62), ("buyer", 20), ("seller", 6), ("none", 12))
# Windows still open, in turn: the double-blind states, then a published pair, then none yet.
OPEN_FATES = ("buyer", "seller", "both", "none", "buyer")

# Review texts are put together from an opening, a detail and a closing of the rating's band
# (any combination reads well), so sixty reviews of one marketplace do not repeat each other.
OF_SELLER = {
    5: (
        [
            "{seller} understood the brief straight away.",
            "Excellent work from start to finish.",
            "Exactly what I asked for, and delivered early.",
            "Very professional and easy to work with.",
            "Great attention to detail.",
            "A fantastic experience.",
            "Fast, friendly and skilled.",
        ],
        [
            "The files were organised and ready to use.",
            "{seller} asked the right questions at the start, so the result needed no changes.",
            "I got regular updates during the order and the delivery came on the day promised.",
            "The one change I asked for was done within a few hours.",
            "Every choice was explained clearly, which helped me present it to my team.",
            "The quality is well above what I expected at this price.",
        ],
        [
            "I will order again.",
            "Highly recommended.",
            "Already planning the next project together.",
            "Thank you, {seller}!",
            "Our team was impressed.",
        ],
    ),
    4: (
        [
            "Good result and friendly communication.",
            "Solid work, delivered on time.",
            "Nice quality for the price.",
            "Happy with the outcome.",
            "Reliable and easy to work with.",
        ],
        [
            "It took one round of revisions to get there, but {seller} handled it quickly.",
            "A few small details I adjusted myself.",
            "Replies were sometimes slow, but the delivery was what I needed.",
            "The first version missed part of the brief; the revision fixed it.",
            "Not the fastest, but the quality is there.",
        ],
        ["Overall a good experience.", "I would order again.", "Recommended.", ""],
    ),
    3: (
        ["The work is usable but felt rushed in places.", "An average experience.", "Decent, not great."],
        [
            "{seller} was polite and made the changes I asked for, though it took a while.",
            "The delivery was a day late and I had to explain the brief twice.",
            "The basics are there, but I expected more polish at this price.",
        ],
        ["The final result is okay.", "It did the job in the end.", ""],
    ),
    2: (
        [
            "The delivery was late and the first version did not follow the brief.",
            "Communication was difficult, with several days without replies.",
        ],
        [
            "The revision improved it, but I ended up redoing part of the work myself.",
            "The result is below what the gig description promises.",
        ],
        ["I hope this feedback helps.", ""],
    ),
    1: (
        [
            "The delivery did not match the gig description.",
            "The deadline was missed by several days and the files were incomplete.",
        ],
        [
            "The revision did not fix the main problems.",
            "Support helped in the end, but it was a frustrating order.",
        ],
        ["I would not order this again.", ""],
    ),
}
OF_BUYER = {
    5: (
        [
            "Clear brief, quick answers and a prompt approval.",
            "{buyer} knew exactly what they wanted.",
            "A great client: organised and friendly.",
            "Everything I needed was in the brief from day one.",
        ],
        ["Feedback was precise and kind.", "Questions were answered within the hour.", ""],
        ["A pleasure to work with.", "I would happily work together again.", "Thank you, {buyer}!"],
    ),
    4: (
        ["A good collaboration.", "A friendly buyer."],
        [
            "The requirements changed a little midway, but we sorted it out quickly.",
            "The brief could have been more detailed, but my questions were answered fast.",
        ],
        ["I would work together again.", ""],
    ),
    3: (
        ["The brief was vague and changed after the delivery."],
        ["That made the order longer than it needed to be."],
        ["Clearer requirements up front would help next time."],
    ),
}
THANKS = [
    "Thank you, {buyer}! It was a pleasure working on this with you.",
    "Thanks for the kind words, {buyer}. Looking forward to the next project.",
    "Thank you! I'm glad the result works for your team.",
]
APOLOGIES = [
    "Thank you for the honest feedback, {buyer}. I'm sorry the first delivery missed the mark; I now "
    "confirm every brief in writing before I start, so this does not happen again.",
    "I'm sorry about the delay. I should have told you sooner that I was running late, and I "
    "appreciate that you stayed with the order.",
]
BUYER_THANKS = [
    "Thanks, {seller}, it was great working with you too!",
    "Thank you! Happy to work together again.",
]
# The review that waits for a moderator (its tenant holds this word) and the one reported.
HELD = (
    1,
    "This felt like a scam: the files were stock templates with my logo added, not the custom "
    "work the gig describes.",
)
REPORTED = (
    2,
    "Two days late and the colours were wrong at first. Fixed after I asked, but I "
    "expected better communication about the delay.",
)
REPORT = ("off_topic", "The delay came from the brief arriving late; I have the messages to show it.")


@dataclass
class ReviewsReport:
    reviews: int = 0
    statuses: Counter = field(default_factory=Counter)
    replies: int = 0
    reports: int = 0
    votes: int = 0
    open_windows: int = 0
    skipped: int = 0  # windows closed before this seed (an older demo): nothing can be written
    levels: Counter = field(default_factory=Counter)  # sellers per level after today's snapshot
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{self.statuses[s]} {s}" for s in ("published", "submitted", "held") if self.statuses[s]]
        text = (
            f"{self.reviews} reviews ({', '.join(parts) or 'none'}), {self.replies} replies, "
            f"{self.reports} reported, {self.votes} helpful votes, {self.open_windows} windows open"
        )
        if self.levels:
            text += "; levels: " + ", ".join(f"{n} {level}" for level, n in sorted(self.levels.items()))
        if self.skipped:
            text += f", {self.skipped} orders skipped (window closed earlier)"
        return text + f" ({self.seconds:.1f} s)"


@dataclass
class _Writing:
    """One review to write: who, about which order, when, what."""

    order_id: int
    author: User
    direction: str
    when: datetime
    data: dict


def _no_progress(slug: str, step: str, done: int, total: int) -> None:
    pass


def seed_reviews(
    slug: str,
    *,
    settings: dict | None = None,
    now: datetime | None = None,
    progress: Callable[[str, str, int, int], None] = _no_progress,
) -> tuple[ReviewsReport | None, list[tuple[int, int]]]:
    """Write the bound tenant's demo reviews when it has none yet; commits once.

    ``settings``: review settings saved first (``update_review_settings``), e.g. the banned
    words one review is held for. Returns the report (None when nothing was done: reviews
    exist, or no demo order is completed) and the outbox events left for the index rebuild
    (taken off the after-commit delivery list; ``seed._settle_events`` settles them).
    """
    from app.events.models import OutboxEvent
    from app.orders.models import Order
    from app.reviews import services as reviews
    from app.reviews.models import Review, ReviewWindow

    started = time.perf_counter()
    now = now or datetime.now(UTC)
    if db.session.scalar(sa.select(Review.id).limit(1)) is not None:
        return None, []
    emails = [f"{handle}@{slug}.test" for _name, handle in people.BUYERS]
    buyers = {u.id: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
    completed = list(
        db.session.scalars(
            sa.select(Order)
            # Gig and offer orders: the demo contracts (app/demo/jobs.py, seeded next) keep their
            # engagement's window open for the parties themselves.
            .where(Order.status == "completed", Order.kind != "contract", Order.buyer_id.in_(list(buyers)))
            .order_by(Order.completed_at, Order.id)
        )
    )
    if not completed:
        return None, []
    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0)))
    rng = random.Random(f"gigforge-demo-reviews-{slug}")  # noqa: S311  (content, not secrets)
    report = ReviewsReport()
    hold = bool(settings and settings.get("hold_banned_words"))
    if settings:
        reviews.update_review_settings(settings)

    sellers = {o.seller_id: db.session.get(User, o.seller_id) for o in completed}
    profiles = {
        seller_id: rng.choices(list(PROFILE_WEIGHTS), weights=list(PROFILE_WEIGHTS.values()))[0]
        for seller_id in sorted(sellers)
    }
    # Special reviews go to the oldest windows that closed (both sides wrote on those).
    specials = ["reported"] + (["held"] if hold else [])
    open_turn = 0
    total = len(completed)
    for index, order in enumerate(completed, 1):
        window = reviews.open_window(order.id, now=order.completed_at)
        if window is None or window.status != "open":
            report.skipped += 1
            continue
        is_open = window.closes_at > now
        if is_open:
            fate = OPEN_FATES[open_turn % len(OPEN_FATES)]
            open_turn += 1
            special = None
        else:
            special = specials.pop(0) if specials else None
            fate = "both" if special else rng.choices(*zip(*CLOSED_FATES, strict=True))[0]
        buyer, seller = buyers[order.buyer_id], sellers[order.seller_id]
        last = min(window.closes_at, now) - 30 * MINUTE  # every review is written before this
        writings = _writings(rng, order, buyer, seller, fate, special, profiles[seller.id], last)
        for writing in writings:
            reviews.submit_review(writing.author, writing.order_id, writing.data, now=writing.when)
            report.reviews += 1
        if not is_open and window.status == "open":
            # Nobody (or one side) wrote: the window publishes what it has when it closes.
            reviews.publish_window(order.id, now=window.closes_at)
        progress(slug, "reviews", index, total)
    db.session.flush()

    published = list(
        db.session.scalars(
            sa.select(Review).where(Review.status == "published").order_by(Review.published_at, Review.id)
        )
    )
    report.replies = _replies(rng, published, buyers, sellers, now)
    report.reports = _report_one(published, sellers, now)
    report.votes = _votes(rng, published, list(buyers.values()))
    report.statuses.update(
        dict(db.session.execute(sa.select(Review.status, sa.func.count()).group_by(Review.status)).all())
    )
    report.open_windows = db.session.scalar(
        sa.select(sa.func.count()).select_from(ReviewWindow).where(ReviewWindow.status == "open")
    )
    # A young marketplace's operator asks less of its sellers than Fiverr's defaults (which few
    # demo sellers, a handful of orders each, would reach): tuned thresholds, so every level shows.
    review_settings.update_level_thresholds(_demo_thresholds(get_branding().currency))
    # Today's reputation snapshot, so levels show at once (the worker's daily job would assign
    # them only after its next claim); its level-change notices are settled with the rest.
    reputation.snapshot_tenant(now)
    report.levels.update(
        dict(
            db.session.execute(
                sa.select(SellerProfile.level, sa.func.count()).group_by(SellerProfile.level)
            ).all()
        )
    )
    left = _settle_events(watermark)
    db.session.commit()
    report.seconds = time.perf_counter() - started
    return report, left


# --------------------------------------------------------------------------- writing


def _first_name(user: User) -> str:
    return user.display_name.split()[0]


def _text(rng: random.Random, bank: tuple[list[str], ...], names: dict) -> str:
    return " ".join(part for part in (rng.choice(pool) for pool in bank) if part).format(**names)


def _sub_ratings(rng: random.Random, rating: int) -> dict:
    def near(low_bias: bool = False) -> int:
        step = rng.choice((-1, 0, 0, 0, 1)) if not low_bias else rng.choice((-1, 0, 0))
        return max(1, min(5, rating + step))

    return {"communication": near(), "as_described": near(), "would_recommend": near(rating <= 2)}


def _writings(
    rng: random.Random,
    order,
    buyer: User,
    seller: User,
    fate: str,
    special: str | None,
    profile: str,
    last: datetime,
) -> list[_Writing]:
    """The reviews of one order, in the order they are written (dates between completion and
    ``last``)."""
    names = {"seller": _first_name(seller), "buyer": _first_name(buyer)}
    start = order.completed_at + 20 * MINUTE
    span = max(last - start, MINUTE)

    def moment(low: float, high: float) -> datetime:
        return start + span * rng.uniform(low, high) ** 2  # most people write in the first days

    result = []
    if fate in ("both", "buyer"):
        if special == "held":
            rating, text = HELD
        elif special == "reported":
            rating, text = REPORTED
        else:
            weights = RATING_PROFILES[profile]
            rating = rng.choices(list(weights), weights=list(weights.values()))[0]
            text = _text(rng, OF_SELLER[rating], names)
        data = {"rating": rating, "text": text, **_sub_ratings(rng, rating)}
        result.append(_Writing(order.id, buyer, "of_seller", moment(0.0, 0.6), data))
    if fate in ("both", "seller"):
        rating = rng.choices((5, 4, 3), weights=(75, 20, 5))[0]
        data = {"rating": rating, "text": _text(rng, OF_BUYER[rating], names)}
        result.append(_Writing(order.id, seller, "of_buyer", moment(0.0, 0.8), data))
    result.sort(key=lambda w: w.when)
    if len(result) == 2 and result[1].when <= result[0].when:
        result[1].when = result[0].when + MINUTE
    return result


def _replies(rng: random.Random, published, buyers: dict, sellers: dict, now: datetime) -> int:
    """Sellers answer some reviews of them (most critical ones, a third of the rest); now and
    then a buyer thanks a seller for theirs. At least one reply when anything was published."""
    from app.reviews import services as reviews

    made = 0
    for review in published:
        if review.direction == "of_seller":
            chance = 0.75 if review.rating <= 3 else 0.3
            bank = APOLOGIES if review.rating <= 3 else THANKS
            replier = sellers.get(review.subject_id)
        else:
            chance, bank, replier = 0.08, BUYER_THANKS, buyers.get(review.subject_id)
        if replier is None or (made and rng.random() >= chance):
            continue
        author = buyers.get(review.author_id) or sellers.get(review.author_id)
        names = {
            "buyer": _first_name(author) if review.direction == "of_seller" else "",
            "seller": _first_name(author) if review.direction == "of_buyer" else "",
        }
        when = min(review.published_at + rng.uniform(1, 48) * HOUR, now - 5 * MINUTE)
        reviews.reply_to_review(replier, review.id, rng.choice(bank).format(**names), now=when)
        made += 1
    return made


def _report_one(published, sellers: dict, now: datetime) -> int:
    """The seller of the designated critical review reports it: an open report for the console."""
    from app.reviews import services as reviews

    target = next((r for r in published if r.direction == "of_seller" and r.text == REPORTED[1]), None)
    if target is None:
        return 0
    reporter = sellers[target.subject_id]
    reason, details = REPORT
    when = min(target.published_at + 6 * HOUR, now - 5 * MINUTE)
    reviews.report_review(reporter, target.id, reason, details, now=when)
    return 1


def _votes(rng: random.Random, published, buyers: list[User]) -> int:
    """Other buyers found some reviews of sellers helpful (the "most helpful" sort has an order)."""
    from app.reviews import services as reviews

    made = 0
    for review in published:
        if review.direction != "of_seller" or rng.random() >= 0.4:
            continue
        voters = [b for b in buyers if b.id != review.author_id]
        for voter in rng.sample(voters, min(len(voters), rng.randint(1, 4))):
            reviews.vote_helpful(voter, review.id)
            made += 1
    return made


# --------------------------------------------------------------------------- events


def _settle_events(after_id: int) -> list[tuple[int, int]]:
    """Settle the outbox events of the demo reviews (ids above ``after_id``).

    Events whose handlers are all skipped here (notifications) or that have none are marked
    dispatched; the others keep their skipped handlers recorded as processed and are
    returned, taken off the after-commit delivery list, for ``seed._settle_events`` (which
    rebuilds the index once and marks search-only events dispatched, or enqueues them).
    """
    from app.events.models import OutboxEvent, ProcessedEvent
    from app.events.registry import handlers_for
    from app.events.services import _PENDING_KEY
    from tenants.db import current_tenant

    events = db.session.execute(
        sa.select(OutboxEvent.id, OutboxEvent.name)
        .where(OutboxEvent.id > after_id, OutboxEvent.status == "pending")
        .order_by(OutboxEvent.id)
    ).all()
    settled, left = [], []
    for event_id, name in events:
        handlers = handlers_for(name)
        skipped = [h for h in handlers if h.key.startswith(SKIPPED_PREFIXES)]
        if len(skipped) == len(handlers):
            settled.append(event_id)
            continue
        db.session.add_all(ProcessedEvent(event_id=event_id, handler=h.key) for h in skipped)
        left.append(event_id)
    if settled:
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id.in_(settled))
            .values(status="dispatched", dispatched_at=sa.func.now(), attempts=1)
        )
    tenant_id = current_tenant().id
    # Nothing of these is delivered at commit: settled here, or by the caller after the rebuild.
    db.session.info.pop(_PENDING_KEY, None)
    db.session.flush()
    return [(tenant_id, event_id) for event_id in left]
