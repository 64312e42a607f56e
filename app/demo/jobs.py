"""Demo jobs, proposals and contracts: the Upwork half of each demo marketplace.

``seed_jobs(slug)`` runs after the demo orders and reviews (``app/demo/orders.py``,
``app/demo/reviews.py``), once per tenant (while it has no jobs), and goes through the jobs,
proposals, contracts, milestone and payments services with the dates of the story, so every
rule holds as for real members:

- about ten open jobs posted from the nine job templates (``template_id``) by several demo
  buyers over the last three weeks, with budgets and skills a client would give; the skills
  overlap the demo sellers' (the printed seller's among them), so "Jobs matching my skills"
  has results for the seller ``make run`` prints;
- two to four fixed-price proposals per open job (the template's milestones, priced inside
  the budget) from the sellers whose skills fit best, some shortlisted or archived by the
  client; one invite, still unanswered, to the printed seller;
- a job of the printed buyer (``people.BUYERS[0]``) with proposals from two sellers, the
  printed seller's among them, ready to hire (issue #15's "Done when" tried by hand);
- an active contract of the printed buyer (offered, accepted, signed by both): milestone 1
  funded and submitted, waiting for the client's answer; milestone 2 funded ahead;
- a completed contract of the printed seller: two milestones funded, submitted (the first
  once more after a request for changes), accepted and paid; its engagement's review window
  is open;
- an open offer from a proposal of the printed seller, waiting for them to accept.

Money goes through the sandbox provider exactly as the demo orders pay
(``payments.open_checkout(order, milestone)`` + ``payments.sandbox_pay``), so each funded
milestone has its provider payment and the ledger its escrow, releases and commission
(``flask ledger verify`` holds); earnings due by now are cleared, like the demo orders' ones.
What the services stamp "now" without taking it (server
defaults: jobs', proposals' and invites' creation, the engagement's timeline rows, ledger
transactions, provider payments, funding dates) is dated after each step (``_Clock``).

Outbox events are settled like the orders' ones (``orders._settle_events``): the contracts'
handler that ends a contract with its engagement and the reviews' window opening run in
this transaction; the notifications' and messaging's handlers are skipped (no bells, emails
or system messages about demo history); any other handler is left to the worker. One
transaction: the tenant gets all of its demo jobs or none.
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
from app.demo.orders import HOURLY_HANDLERS
from tenants.db import db

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
CARD = "4242 4242 4242 4242"

# Handlers run in the seed: a contract ends with its engagement (``order.completed``) and the
# engagement's review window opens from its completion date.
INLINE_HANDLERS = frozenset(
    {"app.contracts.events.end_with_engagement", "app.reviews.events.order_completed", *HOURLY_HANDLERS}
)
# The active contract's first submission: a pull request of the repository the demo links to the
# contract (app/demo/hourly.py: merged, its checks green) and a preview deployment.
DEMO_REPO = "gigforge-demo/booking-tool"
ACTIVE_LINKS = [f"https://github.com/{DEMO_REPO}/pull/7", "https://booking-tool-preview.vercel.app"]
# Handlers that tell people about steps (bells, emails, system messages): skipped for history.
SKIPPED_PREFIXES = (
    "app.notifications.",
    "app.messaging.",
    "app.discovery.events.",
    "app.webhooks.",  # partners' webhooks: history is told to no endpoint
)  # home: bumped at the end


@dataclass(frozen=True)
class JobSpec:
    """One demo job: its story, the template it is posted from and what the client wrote."""

    story: str  # open, ready, offer, invite, active, completed
    template: str
    title: str
    intro: str
    budget: tuple[int, int]  # major units
    skills: tuple[str, ...]
    category: str
    level: str = "intermediate"
    posted_days_ago: float = 5
    questions: tuple[str, ...] = ()
    nda: bool = False
    designerly: bool = False  # a job the printed seller (a designer in the full demo) fits


JOBS = [
    JobSpec(
        "ready",
        "nextjs-site",
        "Marketing site on Next.js from our Figma designs",
        "We are a small accounting software company and our designer has finished the new website in "
        "Figma (12 pages, desktop and phone). We need it built in Next.js with a headless CMS so our "
        "marketing team can edit the pages themselves.",
        (2500, 4500),
        ("next.js", "react", "figma", "ui design", "web development"),
        "Website Development",
        posted_days_ago=4,
        questions=("Which Next.js sites have you built recently?",),
        designerly=True,
    ),
    JobSpec(
        "offer",
        "mobile-app",
        "Dog-walking booking app: design and build for iOS and Android",
        "Our dog-walking business takes bookings by phone today. We want an app where owners book "
        "and pay for walks and walkers see their day. We have rough sketches; the designs and the "
        "build are part of the job.",
        (9000, 16000),
        ("react native", "ui design", "ux design", "figma", "ios", "android"),
        "Mobile Apps",
        posted_days_ago=7,
        nda=True,
        designerly=True,
    ),
    JobSpec(
        "invite",
        "nextjs-site",
        "Portfolio site and brand refresh for an architecture studio",
        "Our studio's site is ten years old. We would like a refreshed visual identity (logo tweak, "
        "colours, type) and a fast portfolio site with case studies we can add ourselves.",
        (3000, 5500),
        ("brand identity", "logo design", "figma", "next.js", "web development"),
        "Website Development",
        level="expert",
        posted_days_ago=3,
        designerly=True,
    ),
    JobSpec(
        "open",
        "saas-mvp",
        "Booking SaaS MVP for fitness studios",
        "Studios should be able to publish their class timetable, members book and pay monthly, and "
        "the owner sees attendance. We have validated the idea with ten studios who will pilot it.",
        (8000, 15000),
        ("python", "react", "postgresql", "stripe", "ui design"),
        "Website Development",
        posted_days_ago=12,
        questions=("How would you split the MVP into releases?",),
        designerly=True,
    ),
    JobSpec(
        "open",
        "shopify-app",
        "Shopify app for product bundles and upsells",
        "We run three Shopify stores and want our own bundle builder: merchants pick products for "
        "a bundle, set a discount, and the storefront offers it on the product page.",
        (3000, 6000),
        ("shopify", "javascript", "node.js", "graphql"),
        "Website Development",
        posted_days_ago=9,
    ),
    JobSpec(
        "open",
        "rest-api",
        "Public REST API for our logistics partners",
        "Partners should be able to create shipments, fetch labels and follow tracking events "
        "through a documented API instead of our CSV exchange.",
        (4000, 7500),
        ("python", "rest", "openapi", "postgresql"),
        "Website Development",
        level="expert",
        posted_days_ago=15,
    ),
    JobSpec(
        "open",
        "data-pipeline",
        "Nightly sales data pipeline into our warehouse",
        "Our sales data lives in Shopify, Stripe and a Postgres database. We want it cleaned and "
        "loaded every night into our warehouse, with alerts when a source fails.",
        (4500, 8000),
        ("python", "sql", "airflow", "etl", "data pipeline"),
        "Data Engineering",
        posted_days_ago=6,
        questions=("Which orchestration tool would you use, and why?",),
    ),
    JobSpec(
        "open",
        "llm-app",
        "Support assistant that answers from our help centre",
        "We have 400 help-centre articles. We want an assistant in our support widget that answers "
        "from them, says when it does not know and hands over to a person.",
        (6000, 12000),
        ("python", "llm", "rag", "openai"),
        "Website Development",
        level="expert",
        posted_days_ago=2,
    ),
    JobSpec(
        "open",
        "devops-task",
        "Move our Docker services to AWS with Terraform",
        "Four services run with docker-compose on one VM. We want them on AWS, described in "
        "Terraform, deployed from GitHub Actions, with backups we have tested.",
        (1500, 3500),
        ("docker", "terraform", "aws", "devops", "ci/cd"),
        "DevOps & Cloud",
        posted_days_ago=10,
    ),
    JobSpec(
        "open",
        "security-audit",
        "Security audit of our customer portal before launch",
        "Our customer portal (Django, React) goes live next month. We need a penetration test of "
        "the portal and its API, and a retest once we have fixed what you find.",
        (3000, 6000),
        ("security", "penetration testing", "owasp"),
        "Website Development",
        level="expert",
        posted_days_ago=8,
        nda=True,
    ),
    JobSpec(
        "active",
        "rest-api",
        "REST API for our clinic booking app",
        "Our clinic booking app needs a proper API: patients, practitioners, appointments and "
        "reminders, documented so our mobile developers can build against it.",
        (4000, 7000),
        ("python", "rest", "openapi", "postgresql"),
        "Website Development",
        posted_days_ago=30,
    ),
    JobSpec(
        "completed",
        "nextjs-site",
        "Landing page design and build for our app launch",
        "We launch our budgeting app next month and need a landing page: designed in Figma first, "
        "then built in Next.js with a waiting-list form.",
        (1800, 3200),
        ("figma", "ui design", "next.js", "web development"),
        "Website Development",
        posted_days_ago=42,
        designerly=True,
    ),
]

OPENINGS = [
    "Hi {client}, I read your brief for “{job}” carefully and it is a close fit for what I do every day.",
    "Hello {client}! “{job}” caught my eye: I have delivered several projects of exactly this kind.",
    "Hi {client}, thanks for the clear description of “{job}”; it answers most of my usual questions.",
    "Hello {client}, I would love to take on “{job}”. Here is how I would approach it.",
]
MIDDLES = [
    "I would start with a short call to confirm the scope, then work milestone by milestone with a "
    "demo at the end of each, so you always see where things stand.",
    "My last project of this kind shipped a week early; I keep the work in small steps, write down "
    "decisions as I go and hand over everything at the end.",
    "I split the work as in your template below. Each milestone ends with something you can try, and "
    "I only move on once you are happy with it.",
    "I have worked with {skill} for years and can show you comparable work on a call. I am used to "
    "working with in-house teams and keep them in the loop.",
]
CLOSINGS = [
    "I can start next week.",
    "Happy to answer any questions before you decide.",
    "Looking forward to hearing from you.",
    "Available to start right away.",
]
ANSWERS = [
    "Two in the last six months: a SaaS marketing site and a documentation portal, both with a "
    "headless CMS; I can share links on a call.",
    "I would ship the booking flow first, then payments, then the owner's reports, each in its own "
    "release so the pilot studios can try them early.",
    "Airflow: you already run Python, it has the retries and alerting you need, and it is easy to "
    "hand over to your team.",
]
SUBMISSIONS = {
    "active": "The OpenAPI specification is ready for review: every resource, error and example is "
    "in it, and the mock server link lets your mobile developers try it today.",
    "completed-1": "Here are the Figma designs for the landing page at phone and desktop sizes, with "
    "the components documented.",
    "completed-1b": "Updated: the hero now leads with the budgeting screenshot and the waiting-list "
    "form sits above the fold, as you asked.",
    "completed-2": "The landing page is live on your domain, with the waiting-list form connected and "
    "a Lighthouse score of 97.",
}
CHANGES = "Lovely work. Could the hero show the app's budgeting screen, and the sign-up form come first?"
OFFER_MESSAGE = (
    "Your proposal was the clearest we received. We adjusted the milestones a little; happy to talk "
    "before you accept."
)
INVITE_MESSAGE = "Your portfolio is exactly the style we are after: would you send us a proposal?"


@dataclass
class JobsReport:
    jobs: Counter = field(default_factory=Counter)
    proposals: Counter = field(default_factory=Counter)
    invites: int = 0
    contracts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        proposals = ", ".join(f"{n} {s}" for s, n in sorted(self.proposals.items()))
        contracts = ", ".join(f"{n} {s}" for s, n in sorted(self.contracts.items()))
        return (
            f"{sum(self.jobs.values())} jobs ({self.jobs['open']} open), "
            f"{sum(self.proposals.values())} proposals ({proposals}), {self.invites} invite, "
            f"{sum(self.contracts.values())} contracts ({contracts}) ({self.seconds:.1f} s)"
        )


def _no_progress(slug: str, step: str, done: int, total: int) -> None:
    pass


def seed_jobs(
    slug: str,
    *,
    seller_email: str | None = None,
    now: datetime | None = None,
    progress: Callable[[str, str, int, int], None] = _no_progress,
) -> JobsReport | None:
    """Add the bound tenant's demo jobs, proposals, invite and contracts when it has no jobs
    yet; commits once.

    ``seller_email`` is the printed seller (default: the first demo seller). Returns the report,
    or None when nothing was done (jobs exist, or fewer than two demo sellers or no demo buyers).
    """
    from app.demo.orders import _settle_events
    from app.events.models import OutboxEvent
    from app.jobs.models import Job
    from app.payments import services as payments

    started = time.perf_counter()
    if db.session.scalar(sa.select(Job.id).limit(1)) is not None:
        return None
    emails = [f"{handle}@{slug}.test" for _name, handle in people.BUYERS]
    by_email = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
    buyers = [by_email[e] for e in emails if e in by_email and by_email[e].is_active]
    sellers = list(
        db.session.scalars(
            sa.select(User)
            .join(SellerProfile, SellerProfile.user_id == User.id)
            .where(User.email.like(f"%@{slug}.test"), User.status == "active")
            .order_by(User.id)
        )
    )
    if len(sellers) < 2 or not buyers:
        return None
    printed = next((s for s in sellers if s.email == seller_email), sellers[0])
    now = now or datetime.now(UTC)
    watermark = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.id), 0)))
    rng = random.Random(f"gigforge-demo-jobs-{slug}")  # noqa: S311  (content, not secrets)
    story = _Story(rng, now, buyers, sellers, printed)
    for index, spec in enumerate(JOBS, 1):
        story.tell(spec)
        progress(slug, "jobs", index, len(JOBS))
    db.session.flush()
    # Earnings due by now are cleared, as the demo orders' were: the completed contract's first
    # milestone is available for a payout, its second still pending.
    payments.clear_due_earnings(now)
    _settle_events(
        watermark,
        inline=INLINE_HANDLERS,
        skip=lambda key: key.startswith(SKIPPED_PREFIXES),
    )
    db.session.commit()
    story.report.seconds = time.perf_counter() - started
    return story.report


# --------------------------------------------------------------------------- the story


class _Clock:
    """Dates the rows the services stamped with the database's "now" (server defaults) since the
    last step: the engagements' timeline, ledger transactions and provider payments."""

    def __init__(self) -> None:
        from app.ledger.models import LedgerTransaction
        from app.orders.models import OrderEvent
        from app.payments.models import Payment

        self.models = (OrderEvent, LedgerTransaction, Payment)
        self.marks = {m: self._top(m) for m in self.models}

    @staticmethod
    def _top(model) -> int:
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(model.id), 0)))

    def stamp(self, when: datetime) -> None:
        from app.payments.models import Payment

        db.session.flush()
        for model in self.models:
            top = self._top(model)
            if top > self.marks[model]:
                rows = sa.update(model).where(model.id > self.marks[model], model.id <= top)
                db.session.execute(rows.values(created_at=when))
                if model is Payment:
                    db.session.execute(rows.where(Payment.status == "succeeded").values(succeeded_at=when))
            self.marks[model] = top


def _first_name(user: User) -> str:
    return user.display_name.split()[0]


class _Story:
    """Drives each job's story through the services, oldest step first within a job."""

    def __init__(self, rng: random.Random, now: datetime, buyers: list[User], sellers: list[User], printed):
        from app.gigs.models import Category
        from app.jobs import services as jobs
        from app.orders.services import marketplace_currency

        self.rng, self.now = rng, now
        self.buyers, self.sellers, self.printed = buyers, sellers, printed
        self.skills = {s.id: list(s.seller_profile.skills or []) for s in sellers}
        self.templates = {t.key: t for t in jobs.list_templates()}
        self.categories = {c.name: c.id for c in db.session.scalars(sa.select(Category)) if c.is_visible}
        self.currency = marketplace_currency()
        self.unit = money.minor_unit(self.currency)
        self.clock = _Clock()
        self.report = JobsReport()
        self._next_buyer = 3  # buyers 0-2 have their own stories

    # --- people

    def _client(self, story: str) -> User:
        fixed = {"ready": 0, "active": 0, "completed": 1, "offer": 2, "invite": 4}
        if story in fixed:
            return self.buyers[fixed[story] % len(self.buyers)]
        buyer = self.buyers[self._next_buyer % len(self.buyers)]
        self._next_buyer += 1
        return buyer

    def _fits(self, skills: list[str], exclude: set[int], count: int) -> list[User]:
        """Up to ``count`` sellers, those sharing most skills with the job first (ties at random)."""
        wanted = set(skills)
        candidates = [s for s in self.sellers if s.id not in exclude]
        self.rng.shuffle(candidates)
        candidates.sort(key=lambda s: -len(wanted & set(self.skills[s.id])))
        return candidates[:count]

    def _other_tech(self, skills: list[str]) -> User:
        return self._fits(skills, {self.printed.id}, 1)[0]

    # --- money

    def _major(self, amount: int) -> int:
        return amount * self.unit

    def _split(self, total: int, shares: list[int]) -> list[int]:
        step = 10 * self.unit
        amounts = [total * share // 100 // step * step for share in shares[:-1]]
        return [*amounts, total - sum(amounts)]

    def _milestone_plan(self, template) -> list[tuple[str, int]]:
        if template is None or not template.milestones:
            return [("First delivery", 40), ("Final delivery", 60)]
        return [(m["title"], int(m["share_percent"])) for m in template.milestones]

    # --- the steps

    def tell(self, spec: JobSpec) -> None:
        template = self.templates.get(spec.template)
        client = self._client(spec.story)
        posted = self.now - spec.posted_days_ago * DAY
        job = self._post(client, spec, template, posted)
        if spec.story == "ready":
            other = self._other_tech(job.skills)
            mine = self._propose(self.printed, job, template, posted + 9 * HOUR)
            self._propose(other, job, template, posted + 20 * HOUR)
            self._review(client, mine, "shortlisted", posted + 2 * DAY)
        elif spec.story == "offer":
            mine = self._propose(self.printed, job, template, posted + 5 * HOUR)
            for i, seller in enumerate(self._fits(job.skills, {self.printed.id}, self.rng.randint(1, 2))):
                self._propose(seller, job, template, posted + (12 + 10 * i) * HOUR)
            self._offer(client, mine, job, self.now - 20 * HOUR)
        elif spec.story == "invite":
            for i, seller in enumerate(self._fits(job.skills, {self.printed.id}, self.rng.randint(2, 3))):
                self._propose(seller, job, template, posted + (6 + 9 * i) * HOUR)
            self._invite(client, job, self.printed, posted + 26 * HOUR)
        elif spec.story == "open":
            self._open_job(client, job, template, posted)
        elif spec.story == "active":
            self._active(client, job, template, posted)
        elif spec.story == "completed":
            self._completed(client, job, template, posted)
        self.report.jobs[job.status] += 1

    def _post(self, client: User, spec: JobSpec, template, when: datetime):
        from app.jobs import services as jobs

        skills = list(spec.skills)
        mine = set(self.skills[self.printed.id])
        if spec.designerly and not mine & set(skills):
            # A small demo whose first seller is no designer: still a job that matches them.
            skills += [s for s in self.skills[self.printed.id] if s not in skills][:2]
        description = spec.intro
        if template is not None:
            description += "\n\n" + jobs.template_prefill(template)["description"]
        low, high = spec.budget
        data = {
            "title": spec.title,
            "description": description,
            "category_id": self.categories.get(spec.category),
            "skills": skills,
            "budget_type": "fixed",
            "budget_min_minor": self._major(low),
            "budget_max_minor": self._major(high),
            "duration": (template.duration if template is not None else None) or "1_to_4_weeks",
            "experience_level": spec.level,
            "nda_required": spec.nda,
            "screening_questions": list(spec.questions),
        }
        job = jobs.post_job(
            client,
            data,
            template_id=template.id if template is not None else None,
            publish_now=True,
            now=when,
        )
        job.created_at = job.updated_at = when - self.rng.uniform(5, 40) * MINUTE
        return job

    def _propose(self, seller: User, job, template, when: datetime):
        from app.jobs import proposals

        low, high = job.budget_min_minor, job.budget_max_minor
        step = 50 * self.unit
        total = max(step, int(self.rng.uniform(low, high) // step * step))
        plan = self._milestone_plan(template)
        amounts = self._split(total, [share for _title, share in plan])
        days = self.rng.choice((14, 21, 30, 45, 60))
        names = {
            "client": _first_name(db.session.get(User, job.client_id)),
            "job": job.title,
            "skill": (job.skills or ["this stack"])[0],
        }
        letter = " ".join(
            (
                self.rng.choice(OPENINGS).format(**names),
                self.rng.choice(MIDDLES).format(**names),
                self.rng.choice(CLOSINGS),
            )
        )
        data = {
            "cover_letter": letter,
            "answers": [ANSWERS[i % len(ANSWERS)] for i, _q in enumerate(job.screening_questions)],
            "total_minor": total,
            "milestones": [
                {"title": title, "amount_minor": amount, "due_in_days": max(1, days * (i + 1) // len(plan))}
                for i, ((title, _share), amount) in enumerate(zip(plan, amounts, strict=True))
            ],
            "delivery_days": days,
        }
        proposal = proposals.submit_proposal(seller, job.id, data, now=when)
        proposal.created_at = proposal.updated_at = when
        self.report.proposals["submitted"] += 1
        return proposal

    def _review(self, client: User, proposal, to: str, when: datetime) -> None:
        from app.jobs import proposals

        proposals.review_proposal(client, proposal.id, to, now=when)
        self.report.proposals["submitted"] -= 1
        self.report.proposals[to] += 1

    def _open_job(self, client: User, job, template, posted: datetime) -> None:
        count = self.rng.randint(2, 4)
        span = min(self.now - posted - HOUR, 4 * DAY)
        made = []
        for seller in self._fits(job.skills, set(), count):
            made.append(self._propose(seller, job, template, posted + span * self.rng.uniform(0.05, 0.9)))
        made.sort(key=lambda p: p.created_at)
        seen = posted + span + 10 * MINUTE
        if len(made) >= 2:
            self._review(client, made[0], "shortlisted", seen)
        if len(made) >= 3 and self.rng.random() < 0.7:
            self._review(client, made[-1], "archived", seen + 5 * MINUTE)

    def _invite(self, client: User, job, seller: User, when: datetime) -> None:
        from app.jobs import services as jobs

        invite = jobs.send_invite(client, job.id, seller.id, INVITE_MESSAGE, now=when)
        invite.created_at = when
        self.report.invites += 1

    # --- contracts

    def _terms(self, proposal, job, dues: list[datetime]) -> dict:
        """The hire form's terms (the proposal's milestones, the template's deliverables and
        DoD) with due dates."""
        from app.contracts import services as contracts

        terms = contracts.prefill_from_proposal(proposal, job)
        for milestone, due in zip(terms["milestones"], dues, strict=False):
            milestone["due_date"] = due.date().isoformat() if due else None
        terms["message"] = OFFER_MESSAGE
        return terms

    def _offer(self, client: User, proposal, job, when: datetime, dues=()):
        from app.contracts import services as contracts

        terms = self._terms(proposal, job, list(dues))
        contract = contracts.offer_from_proposal(client, proposal.id, terms, now=when)
        self.report.contracts["offered"] += 1
        return contract

    def _hire_and_sign(self, client: User, freelancer: User, job, template, posted: datetime, dues):
        """Proposals (the freelancer's and one or two others), an offer to the freelancer,
        accepted and signed by both; returns (contract, engagement order, signed time)."""
        from app.contracts import services as contracts
        from app.orders.models import Order

        proposal = self._propose(freelancer, job, template, posted + 6 * HOUR)
        for i, seller in enumerate(self._fits(job.skills, {freelancer.id}, self.rng.randint(1, 2))):
            self._propose(seller, job, template, posted + (15 + 11 * i) * HOUR)
        offered = posted + 3 * DAY
        contract = self._offer(client, proposal, job, offered, dues)
        accepted = offered + 5 * HOUR
        contracts.accept_offer(freelancer, contract.id, now=accepted)
        contracts.sign(freelancer, contract.id, freelancer.display_name, ip="203.0.113.24", now=accepted)
        signed = accepted + 3 * HOUR
        contracts.sign(client, contract.id, client.display_name, ip="198.51.100.7", now=signed)
        self.clock.stamp(signed)
        self.report.contracts["offered"] -= 1
        self.report.proposals["submitted"] -= 1
        self.report.proposals["hired"] += 1
        order = db.session.get(Order, contract.order_id)
        order.created_at = signed
        return contract, order, signed

    def _fund(self, client: User, order, milestone, when: datetime) -> None:
        """Fund one milestone through the sandbox checkout, as a client on the card page would."""
        from app.orders import milestones as engine
        from app.payments import services as payments

        if milestone.status == "planned":
            engine.request_funding(client, order.id, milestone.id, now=when - 2 * MINUTE)
        first = order.paid_at is None
        checkout = payments.open_checkout(order, milestone)
        expiry = f"12/{(when.year + 5) % 100:02d}"
        result = payments.sandbox_pay(client, checkout.payment_id, CARD, expiry, "123")
        if result.outcome != "succeeded":
            raise RuntimeError(f"demo contract {order.id}: the sandbox payment {result.outcome}")
        milestone.funded_at = when
        if first:
            order.paid_at = when
        self.clock.stamp(when)

    def _submit(
        self, freelancer: User, order, milestone, text: str, when: datetime, links: list[str] | None = None
    ) -> None:
        from app.orders import milestones as engine

        engine.submit_milestone(
            freelancer,
            order.id,
            milestone.id,
            text,
            links or ["https://example.com/demo/handover"],
            dod_done=list(range(1, len(milestone.dod or []) + 1)),
            now=when,
        )
        self.clock.stamp(when)

    def _active(self, client: User, job, template, posted: datetime) -> None:
        """Milestone 1 funded and submitted (the client's turn), milestone 2 funded ahead."""
        freelancer = self._other_tech(job.skills)
        dues = [self.now + 2 * DAY, self.now + 20 * DAY, self.now + 35 * DAY]
        contract, order, signed = self._hire_and_sign(client, freelancer, job, template, posted, dues)
        first, second = order.milestones[0], order.milestones[1]
        self._fund(client, order, first, signed + 40 * MINUTE)
        self._submit(freelancer, order, first, SUBMISSIONS["active"], self.now - 26 * HOUR, ACTIVE_LINKS)
        self._fund(client, order, second, self.now - 20 * HOUR)
        self.report.contracts[contract.status] += 1

    def _completed(self, client: User, job, template, posted: datetime) -> None:
        """Two milestones funded, submitted (the first twice), accepted and paid."""
        from app.contracts import services as contracts
        from app.orders import milestones as engine

        freelancer = self.printed
        dues = [self.now - 20 * DAY, self.now - 4 * DAY]
        contract, order, signed = self._hire_and_sign(client, freelancer, job, template, posted, dues)
        first, second = order.milestones[0], order.milestones[1]
        self._fund(client, order, first, signed + HOUR)
        self._submit(freelancer, order, first, SUBMISSIONS["completed-1"], self.now - 25 * DAY)
        changes = self.now - 24 * DAY
        engine.request_changes(client, order.id, first.id, CHANGES, now=changes)
        self.clock.stamp(changes)
        self._submit(freelancer, order, first, SUBMISSIONS["completed-1b"], self.now - 22 * DAY)
        accepted = self.now - 21 * DAY - 4 * HOUR
        engine.accept_milestone(client, order.id, first.id, now=accepted)
        self.clock.stamp(accepted)
        self._fund(client, order, second, accepted + 20 * MINUTE)
        for rest in order.milestones[2:]:  # a template with more milestones: the rest as well
            self._fund(client, order, rest, accepted + 25 * MINUTE)
        for i, m in enumerate(order.milestones[1:]):
            self._submit(freelancer, order, m, SUBMISSIONS["completed-2"], self.now - (6 * DAY - i * HOUR))
        done = self.now - 5 * DAY
        for i, m in enumerate(order.milestones[1:]):
            engine.accept_milestone(client, order.id, m.id, now=done + i * MINUTE)
        self.clock.stamp(done)
        # The contract ends with its engagement, on the day (its handler would say today).
        contracts.sync_with_engagement(order.id, now=done)
        self.report.contracts[db.session.get(type(contract), contract.id).status] += 1
