"""Demo marketplaces for `make run`: two tenants with different branding and a catalog worth searching.

``seed_demo()`` creates the tenants that are missing, then fills each with
sellers (verified accounts, seller profiles, avatars), a few hundred active
gigs (three packages, extras, FAQ, generated images), twenty buyers and about
four months of orders in every state, with their money (escrow, commission,
refunds, cleared earnings, payouts; sellers' identity checks, one pending, and a payout hold;
see ``app/demo/orders.py``) and the reviews of the completed ones (ratings, replies, a
reported and a held review, windows still open; see ``app/demo/reviews.py``), then jobs with
proposals, an invite and contracts (an open offer, an active one with a submitted and a funded
milestone, a completed one; see ``app/demo/jobs.py``).
Everything goes through the services, so the same rules hold as for a real
seller; the content comes from ``app/demo`` with a random generator
seeded by the tenant's slug (same marketplace, same gigs).

The demo also gets its staff: a platform admin (``DEMO_PLATFORM_ADMIN``, for the
``/platform`` console on the bare platform host) and, in each tenant, besides the
operator admin, a moderator (``moderator@<slug>.test``, role ``moderator``).

Idempotent: a demo person who already exists (by email) is skipped with their
gigs, orders are only added to a tenant that has none, reviews to one that has none and jobs
to one that has none, so re-running `make run` adds nothing. Search is indexed once per
tenant by ``reindex_tenant()``, after the reviews (the gigs' ratings), instead of one index
write per event (see ``_settle_events``). Each filled schema is then analysed (``ANALYZE``), so
the planner has statistics of the freshly loaded tables from the first query on.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.accounts.services import (
    create_user,
    hash_password,
    set_avatar,
    update_profile,
    upsert_seller_profile,
)
from app.core import money
from app.demo import catalog, local, people
from app.demo.images import avatar_picture, gig_picture
from app.settings.services import get_branding, update_branding, update_marketplace_settings
from tenants.db import analyze_tenant, db, tenant_context
from tenants.provisioning import create_tenant
from tenants.resolver import get_tenant_by_slug

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (published demo credentials)
DEMO_PLATFORM_ADMIN = "admin@gigforge.localhost"
DEMO_SELLERS_PER_TENANT = 20
DEMO_GIGS_PER_TENANT = 250
DEMO_ORDERS_PER_TENANT = 100
IMAGE_VARIANTS = 3  # distinct pictures per subcategory (each is re-encoded once)

DEMO_TENANTS = [
    {
        "slug": "acme",
        "name": "Acme Talent",
        "branding": {
            "tagline": "Hand-picked freelancers for growing businesses",
            "hero_text": "Logos, websites, copy and more, delivered on time.",
            "primary_color": "#0f766e",
            "accent_color": "#134e4a",
        },
        # Acme holds reviews with these words for a moderator (one demo review waits there).
        "review_settings": {"hold_banned_words": True, "banned_words": ["scam", "fraud", "rip-off"]},
    },
    {
        "slug": "globex",
        "name": "Globex Freelance",
        "branding": {
            "tagline": "The creative marketplace of the Globex network",
            "hero_text": "Find design, video and music talent in minutes.",
            "primary_color": "#6d28d9",
            "accent_color": "#3b0764",
        },
    },
    {
        # A local-services marketplace (app/demo/local.py): on-site gigs around five UK cities.
        "slug": "homehero",
        "name": "HomeHero",
        "branding": {
            "tagline": "Trusted local pros for every job around the house",
            "hero_text": "Cleaners, plumbers, electricians, gardeners and tutors near you.",
            "primary_color": "#0369a1",
            "accent_color": "#0c4a6e",
        },
        "settings": {"currency": "GBP", "locale": "en_GB", "location_enabled": True, "default_country": "GB"},
        "local": True,
    },
]


def seed_demo(
    *,
    sellers_per_tenant: int = DEMO_SELLERS_PER_TENANT,
    gigs_per_tenant: int = DEMO_GIGS_PER_TENANT,
    orders_per_tenant: int | None = None,
    tenants: list[dict] | None = None,
    progress: Callable[[str, str, int, int], None] | None = None,
) -> list[str]:
    """Create the demo tenants that are missing and fill in their missing demo content.

    Returns lines to print (what was done, and the demo logins). ``tenants``
    defaults to ``DEMO_TENANTS`` (a spec whose slug is not in ``people.TENANT_MIX``
    gets an even mix of categories). ``orders_per_tenant`` defaults to
    ``DEMO_ORDERS_PER_TENANT`` scaled to the catalog (100 for 250 gigs, none for a
    handful); orders are added only to a tenant without any. The tenants' content is
    written in parallel, one thread (own app context, session and transaction) per
    tenant: most of the time is spent waiting for PostgreSQL, which two sessions overlap.
    ``progress(slug, step, done, total)``, when given, is called as each tenant's steps
    advance (``make run`` prints it; it is called from the tenants' threads).
    """
    app = current_app._get_current_object()
    specs = tenants or DEMO_TENANTS
    if orders_per_tenant is None:
        orders_per_tenant = DEMO_ORDERS_PER_TENANT * gigs_per_tenant // DEMO_GIGS_PER_TENANT
    lines: list[str] = []
    refs = [_ensure_tenant(spec, lines) for spec in specs]
    app.extensions["tenants"].invalidate()
    password_hash = None
    for spec, ref in zip(specs, refs, strict=True):
        with tenant_context(ref):
            if _missing_people(spec["slug"], sellers_per_tenant):
                # One argon2id hash of the published demo password for every demo account
                # (each costs 0.1-0.5 s; 40+ of them would dominate the seeding time).
                password_hash = hash_password(DEMO_PASSWORD)
                break
    if _ensure_platform_admin(password_hash):
        lines.append(f"platform: admin {DEMO_PLATFORM_ADMIN} created")
    pictures: dict[tuple, bytes] = {}  # shared by the tenants, like the processed images

    def fill(spec: dict, ref) -> list[str]:
        with app.app_context(), tenant_context(ref):
            try:
                return _fill_tenant(
                    spec["slug"],
                    sellers_per_tenant,
                    gigs_per_tenant,
                    orders_per_tenant,
                    password_hash,
                    pictures,
                    progress or _no_progress,
                    review_settings=spec.get("review_settings"),
                )
            finally:
                db.session.remove()

    db.session.remove()  # nothing of this thread's session is needed any more
    with _process_each_picture_once(), ThreadPoolExecutor(max_workers=2) as pool:
        for result in [pool.submit(fill, spec, ref) for spec, ref in zip(specs, refs, strict=True)]:
            lines.extend(result.result())
    app.extensions["tenants"].invalidate()
    return lines


def _ensure_tenant(spec: dict, lines: list[str]):
    """The demo tenant of ``spec``, created (with its branding) when missing."""
    ref = get_tenant_by_slug(spec["slug"])
    if ref is not None:
        return ref
    result = create_tenant(
        spec["slug"],
        spec["name"],
        base_domain=current_app.config["BASE_DOMAIN"],
        options={
            "admin_email": f"admin@{spec['slug']}.test",
            "admin_password": DEMO_PASSWORD,
            **spec["branding"],
        },
    )
    with tenant_context(result.tenant):
        update_branding(**spec["branding"])
        if spec.get("settings"):
            update_marketplace_settings(**spec["settings"])
        if spec.get("local"):
            _local_categories()
        db.session.commit()
    lines.append(f"{spec['slug']}: created ({', '.join(result.notes)})")
    return result.tenant


def _no_progress(slug: str, step: str, done: int, total: int) -> None:
    pass


def _fill_tenant(
    slug: str,
    sellers: int,
    gigs: int,
    orders: int,
    password_hash: str | None,
    pictures: dict,
    progress: Callable[[str, str, int, int], None] = _no_progress,
    *,
    review_settings: dict | None = None,
) -> list[str]:
    """Add the bound tenant's missing demo content, then its orders and their reviews, then its
    jobs and contracts; returns lines to print. The search index is rebuilt once at the end,
    with the gigs' ratings."""
    from app.demo.disputes import seed_disputes
    from app.demo.hourly import seed_hourly
    from app.demo.jobs import seed_jobs
    from app.demo.orders import seed_orders
    from app.demo.reviews import seed_reviews

    started = time.perf_counter()
    report, pending = _seed_content(slug, sellers, gigs, password_hash, pictures, progress)
    seconds = time.perf_counter() - started
    progress(slug, "orders", 0, 1)
    history = seed_orders(slug, orders)
    progress(slug, "orders", 1, 1)
    reviewed, review_events = seed_reviews(slug, settings=review_settings, progress=progress)
    jobs = disputed = hourly = None
    if not _is_local(slug):  # a local-services marketplace is gigs only (jobs are for online work)
        jobs = seed_jobs(slug, seller_email=report["seller_login"], progress=progress)
        progress(slug, "disputes", 0, 1)
        disputed = seed_disputes(slug)
        progress(slug, "disputes", 1, 1)
        progress(slug, "hourly and workroom", 0, 1)
        hourly = seed_hourly(slug, seller_email=report["seller_login"])
        progress(slug, "hourly and workroom", 1, 1)
    if report["sellers"] or report["buyers"] or reviewed is not None:
        progress(slug, "search index", 0, 1)
        indexing = time.perf_counter()
        report["indexed"] = _settle_events(pending + review_events)
        seconds += time.perf_counter() - indexing
        progress(slug, "search index", 1, 1)
    from app.discovery.home import bump_generation

    bump_generation()  # the home page's cache (the demo's events skip its handler)
    if report["sellers"] or report["gigs"] or report["buyers"]:
        done = (
            f"{slug}: added {report['sellers']} sellers, {report['gigs']} gigs "
            f"({report['images']} images), {report['buyers']} buyers; {report['indexed']} "
            f"in search ({seconds:.1f} s)"
        )
    elif history is None and reviewed is None and jobs is None and disputed is None and hourly is None:
        done = f"{slug}: demo content already there"
    else:
        done = f"{slug}: demo people and gigs already there"
    if history is not None:
        done += f"; added {history.summary()}"
    if reviewed is not None:
        done += f"; added {reviewed.summary()}"
    if jobs is not None:
        done += f"; added {jobs.summary()}"
    if disputed is not None:
        done += f"; added {disputed.summary()}"
    if hourly is not None:
        done += f"; added {hourly.summary()}"
    if report["moderator"]:
        done += f"; moderator {moderator_email(slug)} added"
    from app.demo.partners import seed_partners

    partner = seed_partners(slug, report["buyer_login"])
    from app.demo.identity import seed_identity_providers

    if seed_identity_providers(slug):
        db.session.commit()
        partner.append(
            f"{slug}: sign-in with GitHub and Google goes to the local demo provider "
            "(pick a demo identity on its page; console: Sign-in methods)"
        )
    # A bulk load: the planner has no statistics of these tables until they are analysed.
    analyze_tenant()
    db.session.commit()
    login = (
        f"{slug}: log in as admin@{slug}.test (operator), {moderator_email(slug)} (moderator), "
        f"{report['seller_login']} (seller), {report['buyer_login']} (buyer); password {DEMO_PASSWORD}"
    )
    return [done, login, *partner]


# --------------------------------------------------------------------------- staff


def moderator_email(slug: str) -> str:
    return f"moderator@{slug}.test"


def _ensure_platform_admin(password_hash: str | None) -> bool:
    """The demo's platform admin, created when missing; True when it was created."""
    from app.platform.models import PlatformAdmin

    db.session.remove()  # public schema: start clean of any tenant's transaction
    exists = db.session.scalar(
        sa.select(PlatformAdmin.id).where(sa.func.lower(PlatformAdmin.email) == DEMO_PLATFORM_ADMIN)
    )
    if exists is not None:
        db.session.rollback()
        return False
    db.session.add(
        PlatformAdmin(
            email=DEMO_PLATFORM_ADMIN,
            display_name="Demo platform admin",
            password_hash=password_hash or hash_password(DEMO_PASSWORD),
        )
    )
    db.session.commit()
    return True


def _ensure_moderator(slug: str, password_hash: str | None) -> bool:
    """The bound tenant's demo moderator, created when missing (flushes); True when created."""
    email = moderator_email(slug)
    if db.session.scalar(sa.select(User.id).where(sa.func.lower(User.email) == email)) is not None:
        return False
    user = _new_person("Demo moderator", email, password_hash or hash_password(DEMO_PASSWORD))
    user.role = "moderator"
    db.session.flush()
    return True


# --------------------------------------------------------------------------- people


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", text.lower()).strip(".")


def _email(name: str, slug: str) -> str:
    return f"{_ascii(name)}@{slug}.test"


def _is_local(slug: str) -> bool:
    return any(spec["slug"] == slug and spec.get("local") for spec in DEMO_TENANTS)


def _mix(slug: str) -> dict[str, float]:
    if _is_local(slug):
        return local.MIX
    return people.TENANT_MIX.get(slug) or {name: 1 for name in people.HEADLINES}


def _catalog(slug: str) -> dict:
    return local.SUBCATEGORIES if _is_local(slug) else catalog.SUBCATEGORIES


def _local_categories() -> None:
    """The local marketplace's category tree instead of the starter one (hidden, not deleted)."""
    from app.gigs.categories import create_category, tree, update_category

    for category in tree():
        if category.parent_id is None:
            update_category(category.id, is_hidden=True)
    for top, children in local.TREE:
        parent = create_category(top)
        for child in children:
            create_category(child, parent_id=parent.id)


def _seller_plan(slug: str, count: int) -> list[tuple[tuple, str]]:
    """(name entry, top category) of each demo seller, categories in proportion to the mix."""
    mix = _mix(slug)
    offset = 0 if slug == "acme" else 20 if slug == "globex" else zlib_offset(slug)
    names = [people.SELLER_NAMES[(offset + i) % len(people.SELLER_NAMES)] for i in range(count)]
    total = sum(mix.values())
    # Largest-remainder apportionment of sellers over the categories.
    quotas = {cat: weight * count / total for cat, weight in mix.items()}
    seats = {cat: int(q) for cat, q in quotas.items()}
    for cat in sorted(quotas, key=lambda c: quotas[c] - seats[c], reverse=True)[
        : count - sum(seats.values())
    ]:
        seats[cat] += 1
    order = [cat for cat in mix for _ in range(seats[cat])]
    return list(zip(names, order, strict=True))


def zlib_offset(slug: str) -> int:
    return zlib.crc32(slug.encode()) % len(people.SELLER_NAMES)


def _missing_people(slug: str, sellers: int) -> bool:
    emails = [_email(name, slug) for (name, _c, _l), _cat in _seller_plan(slug, sellers)]
    emails += [f"{handle}@{slug}.test" for _name, handle in people.BUYERS]
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email.in_(emails)))
    return existing < len(emails)


def _new_person(name: str, email: str, password_hash: str, **profile) -> User:
    user = create_user(email, None, name)  # the seed path: no sign-up email
    user.password_hash = password_hash
    user.email_verified_at = datetime.now(UTC)
    update_profile(user, **profile)
    return user


# --------------------------------------------------------------------------- content


def _seed_content(
    slug: str,
    sellers: int,
    gigs: int,
    password_hash: str | None,
    pictures: dict,
    progress: Callable[[str, str, int, int], None] = _no_progress,
) -> tuple[dict, list[tuple[int, int]]]:
    """The bound tenant's missing people and gigs (committed) and their outbox events, taken
    off the after-commit delivery list for ``_settle_events``."""
    from app.gigs.models import Category

    rng = random.Random(f"gigforge-demo-{slug}")  # noqa: S311  (content, not secrets)
    plan = _seller_plan(slug, sellers)
    report = {"sellers": 0, "gigs": 0, "images": 0, "buyers": 0, "indexed": "nothing new"}
    report["seller_login"] = _email(plan[0][0][0], slug) if plan else "-"
    report["buyer_login"] = f"{people.BUYERS[0][1]}@{slug}.test"
    by_name = {c.name: c for c in db.session.scalars(sa.select(Category)) if c.is_visible}
    unit = money.minor_unit(get_branding().currency)
    existing = set(db.session.scalars(sa.select(User.email).where(User.email.like(f"%@{slug}.test"))))

    new_sellers: list[tuple[User, str, random.Random]] = []
    for (name, country, languages), top in plan:
        person_rng = random.Random(f"{slug}/{name}")  # noqa: S311
        email = _email(name, slug)
        if email in existing:
            continue
        is_local = _is_local(slug)
        user = _new_person(
            name,
            email,
            password_hash,
            country=local.COUNTRY if is_local else country,
            languages=languages,
            bio=person_rng.choice(people.BIOS),
        )
        specs = _catalog(slug)
        subs = [s for s in _subcategories(top, slug) if s in specs]
        skills = list(dict.fromkeys(tag for s in subs for tag in specs[s]["tags"][:3]))[:12]
        low, high = (local.HOURLY_RATES if is_local else people.HOURLY_RATES)[top]
        headlines = local.HEADLINES if is_local else people.HEADLINES
        upsert_seller_profile(
            user,
            headline=person_rng.choice(headlines[top]).format(years=person_rng.randint(3, 15)),
            description=" ".join(person_rng.sample(people.BIOS, 2)),
            skills=skills,
            hourly_rate_minor=person_rng.randrange(low, high + 1, 5) * unit,
            availability=person_rng.choice(["full_time", "full_time", "part_time", "occasional"]),
        )
        set_avatar(user, avatar_picture(name))
        new_sellers.append((user, top, person_rng))
        report["sellers"] += 1
        progress(slug, "sellers", report["sellers"], len(plan))
    for name, handle in people.BUYERS:
        email = f"{handle}@{slug}.test"
        if email not in existing:
            _new_person(name, email, password_hash, bio="Here to find great freelancers.")
            report["buyers"] += 1
    report["moderator"] = _ensure_moderator(slug, password_hash)

    if new_sellers and by_name:
        from app.gigs.services import add_gig_image, create_gig, publish_gig

        per_seller = _split(gigs, len(plan))
        gigs_to_add = sum(
            per_seller[i] for i, ((name, _c, _l), _t) in enumerate(plan) if _email(name, slug) not in existing
        )
        index_of = {_email(name, slug): i for i, ((name, _c, _l), _t) in enumerate(plan)}
        specs = _catalog(slug)
        for user, top, person_rng in new_sellers:
            subs = [s for s in _subcategories(top, slug) if s in specs and s in by_name]
            if not subs:
                continue
            base = local.place(person_rng, index_of[user.email]) if _is_local(slug) else None
            for _ in range(per_seller[index_of[user.email]]):
                sub = person_rng.choice(subs)
                gig = create_gig(user, _gig_data(specs[sub], by_name[sub].id, unit, person_rng))
                if base is not None and person_rng.random() >= local.ONLINE_SHARE.get(top, 0):
                    _place_gig(user, gig, base)
                count = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
                for variant in rng.sample(range(IMAGE_VARIANTS), count):
                    key = (sub, top, variant)
                    if key not in pictures:
                        pictures[key] = gig_picture(sub, top, variant)
                    add_gig_image(user, gig, pictures[key])
                    report["images"] += 1
                publish_gig(user, gig)
                report["gigs"] += 1
                progress(slug, "gigs", report["gigs"], gigs_to_add)
    pending = _take_pending_events()
    db.session.commit()
    # The index is rebuilt (and these events settled) once the orders and reviews are in too.
    return report, pending


def _subcategories(top: str, slug: str = "") -> list[str]:
    from app.gigs.starter_categories import STARTER_CATEGORIES

    tree = local.TREE if _is_local(slug) else STARTER_CATEGORIES
    return next((children for name, children in tree if name == top), [])


def _place_gig(user: User, gig, base: tuple[str, float, float, int]) -> None:
    """An on-site gig of the local demo: the seller's base point near their city, their radius."""
    from app.gigs.services import set_gig_location

    city, lat, lng, radius = base
    set_gig_location(gig, delivery_mode="on_site", latitude=lat, longitude=lng, radius_km=radius)
    gig.location_name, gig.location_country = city, local.COUNTRY


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)] if parts else []


def _nice(price: float) -> int:
    step = 5 if price < 100 else 10 if price < 500 else 50
    return max(step, int(round(price / step) * step))


_ARTICLE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")


def _gig_data(spec: dict, category_id: int, unit: int, rng: random.Random) -> dict:
    title = rng.choice(spec["titles"]).format(a=rng.choice(spec["a"]), b=rng.choice(spec["b"]))
    title = title[0].upper() + title[1:]
    title = _ARTICLE.sub(lambda m: f"{m.group(1)}n {m.group(2)}", title)  # "a acoustic" -> "an acoustic"
    features = spec["features"]
    low, high = spec["price"]
    basic_price = _nice(rng.uniform(low, high))
    days_low, days_high = spec["days"]
    basic_days = rng.randint(days_low, days_high)
    tiers = [
        ("basic", "Essential", basic_price, basic_days, 1, max(2, len(features) // 3)),
        (
            "standard",
            "Professional",
            _nice(basic_price * rng.uniform(1.8, 2.4)),
            basic_days + rng.randint(1, 3),
            3,
            max(3, 2 * len(features) // 3),
        ),
        (
            "premium",
            "All-in",
            _nice(basic_price * rng.uniform(3.5, 5)),
            basic_days + rng.randint(3, 7),
            rng.choice((5, -1)),
            len(features),
        ),
    ]
    packages = [
        {
            "tier": tier,
            "title": label,
            "description": f"{', '.join(features[:n])}."[:300],
            "price_minor": min(price * unit, 10_000_000),
            "delivery_days": min(days, 90),
            "revisions": revisions,
            "features": features[:n],
        }
        for tier, label, price, days, revisions, n in tiers
    ]
    extras = (
        [
            {
                "title": "Extra-fast delivery",
                "description": "I prioritise your order and deliver sooner.",
                "price_minor": _nice(basic_price * 0.5) * unit,
                "extra_days": -(basic_days // 2),
            }
        ]
        if basic_days >= 2
        else []
    )
    extras.append(
        {
            "title": "Additional revision",
            "description": "One more round of changes after delivery.",
            "price_minor": _nice(basic_price * 0.25) * unit,
            "extra_days": 1,
        }
    )
    tags = list(
        dict.fromkeys([spec["tags"][0], *rng.sample(spec["tags"][1:], min(3, len(spec["tags"]) - 1))])
    )
    description = "\n\n".join(
        [
            " ".join(rng.sample(spec["intro"], len(spec["intro"]))),
            f"In short: {title}.",
            "**What you get**\n\n" + "\n".join(f"- {f}" for f in features[: max(3, len(features) - 2)]),
            "**How I work**\n\n"
            + "\n".join(f"{i}. {step}" for i, step in enumerate(spec.get("process", catalog.PROCESS), 1)),
            rng.choice(catalog.CLOSINGS),
        ]
    )
    faqs = [{"question": q, "answer": a} for q, a in [spec["faq"], *rng.sample(catalog.GENERIC_FAQS, 2)]]
    return {
        "title": title,
        "description": description,
        "category_id": category_id,
        "tags": tags,
        "packages": packages,
        "extras": extras,
        "faqs": faqs,
    }


@contextlib.contextmanager
def _process_each_picture_once() -> Iterator[None]:
    """Validate and re-encode each distinct demo picture once, however many gigs use it.

    ``add_gig_image`` runs ``process_image`` (decode, re-encode to WebP, thumbnail) on
    every upload: ~0.1 s per image on this 2-core box, i.e. over a minute for the demo's
    ~750 images per tenant, where the catalog only has ~100 distinct pictures.
    ``process_image`` is a pure function of its input, so memoising it by the bytes and
    arguments changes no result; everything else ``add_gig_image`` does (count limit,
    lock, a stored file per image, version bump, event) still happens per upload.
    """
    from app.storage import images

    original = images.process_image
    cache: dict[tuple, tuple[bytes, str]] = {}

    def memoised(data, **kwargs):
        if not isinstance(data, bytes):
            return original(data, **kwargs)
        key = (hashlib.sha256(data).digest(), tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = original(data, **kwargs)
        return cache[key]

    images.process_image = memoised
    try:
        yield
    finally:
        images.process_image = original


# --------------------------------------------------------------------------- events


def _take_pending_events() -> list[tuple[int, int]]:
    """Take this transaction's outbox events off the after-commit delivery list.

    The demo writes ~3 events per gig (published, one ``gig.updated`` per image);
    delivering them would cost one Whoosh commit each. ``_settle_events`` handles them
    after the commit instead. If the process dies in between, the rows are still
    ``pending`` in the outbox and the worker's relay delivers them: nothing is lost.
    """
    from app.events.services import _PENDING_KEY

    return db.session.info.pop(_PENDING_KEY, None) or []


# Handlers whose work the seed does itself (the index rebuilt once, the home cache bumped once) or
# that demo history skips (partners' webhooks: no endpoint hears of it).
COVERED_HANDLERS = ("app.search.", "app.discovery.events.", "app.webhooks.")


def _settle_events(pending: list[tuple[int, int]]) -> str:
    """Rebuild the search index once, then mark the events whose only handlers are
    ``COVERED_HANDLERS`` as dispatched (the rebuild did their work, the home cache is bumped once
    when the tenant is filled, webhooks tell no history); others are delivered.
    Returns a summary. If the index writer is busy, every event is left to the worker.
    """
    from app.events.models import OutboxEvent
    from app.events.registry import handlers_for
    from app.events.services import enqueue_delivery
    from app.search.services import SearchBusy, reindex_tenant

    ids = [event_id for _tenant_id, event_id in pending]
    try:
        indexed = reindex_tenant()
    except SearchBusy:
        for tenant_id, event_id in pending:
            enqueue_delivery(tenant_id, event_id)
        return "search index busy: events left to the worker"
    names = dict(
        db.session.execute(sa.select(OutboxEvent.id, OutboxEvent.name).where(OutboxEvent.id.in_(ids))).all()
    )
    covered = [
        i
        for i in ids
        if handlers_for(names.get(i, ""))
        and all(h.key.startswith(COVERED_HANDLERS) for h in handlers_for(names[i]))
    ]
    if covered:
        db.session.execute(
            sa.update(OutboxEvent)
            .where(OutboxEvent.id.in_(covered), OutboxEvent.status == "pending")
            .values(status="dispatched", dispatched_at=sa.func.now())
        )
    db.session.commit()
    covered_set = set(covered)
    for tenant_id, event_id in pending:
        if event_id not in covered_set:
            enqueue_delivery(tenant_id, event_id)
    return f"{indexed} gigs"
