"""The operator's rules for the category tree: create, rename, reorder, hide and show.

Two levels only (category -> subcategory). Names are unique among siblings
(case-insensitive) and slugs across the tree (they are the category pages' URLs,
``/c/<slug>``, so a rename keeps the slug unless a new one is given).
Hiding a category hides its subcategories from buyers and from sellers' choices;
gigs already in it stay as they are. Every change flushes, drops the tenant's
cached category tree (``invalidate_category_cache``) and publishes ``category.changed``
``{"category_id": id}`` (``null`` for a reorder of a level; discovery refreshes the home
page); the caller commits.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.core.domain_errors import DomainError
from app.core.text import slugify
from app.events import publish
from app.gigs.models import Category, Gig
from app.gigs.services import invalidate_category_cache
from tenants.db import db

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?\Z")
NAME_MAX = 80
DESCRIPTION_MAX = 300
MAX_CATEGORIES = 500


class CategoryError(DomainError):
    """A refused category change. ``errors``: field -> message; ``status``: 422, 404 or 409."""

    def __init__(self, errors: dict[str, str], status: int | None = None):
        super().__init__(errors, status=status)


def tree() -> list[Category]:
    """Every top-level category with its children (hidden ones too), in display order."""
    return list(
        db.session.scalars(
            sa.select(Category)
            .where(Category.parent_id.is_(None))
            .options(selectinload(Category.children))
            .order_by(Category.position, Category.id)
        )
    )


def gig_counts() -> dict[int, int]:
    """Gigs per category id (any status), for the console's table."""
    rows = db.session.execute(
        sa.select(Gig.category_id, sa.func.count())
        .where(Gig.category_id.is_not(None))
        .group_by(Gig.category_id)
    ).all()
    return {category_id: count for category_id, count in rows}


def get_category(category_id, *, lock: bool = False) -> Category:
    if not isinstance(category_id, int) or isinstance(category_id, bool) or not 0 < category_id < 2**31:
        raise CategoryError({"category_id": "This category does not exist."}, 404)
    query = sa.select(Category).where(Category.id == category_id)
    if lock:
        query = query.with_for_update()
    category = db.session.scalars(query).first()
    if category is None:
        raise CategoryError({"category_id": "This category does not exist."}, 404)
    return category


def _siblings(parent_id: int | None, *, lock: bool = False) -> list[Category]:
    query = sa.select(Category).where(
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    )
    if lock:
        query = query.with_for_update()
    return list(db.session.scalars(query.order_by(Category.position, Category.id)))


def _clean_name(value, errors: dict) -> str | None:
    if not isinstance(value, str) or not " ".join(value.split()):
        errors["name"] = "Enter a name."
        return None
    name = " ".join(value.split())
    if len(name) > NAME_MAX:
        errors["name"] = f"Use at most {NAME_MAX} characters."
        return None
    return name


def _clean_slug(value, errors: dict) -> str | None:
    if not isinstance(value, str) or not SLUG_RE.match(value.strip()):
        errors["slug"] = "Use lower-case letters, digits and hyphens (like logo-design), at most 80."
        return None
    return value.strip()


def _clean_description(value, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors["description"] = "must be text"
        return ""
    text = " ".join(value.split())
    if len(text) > DESCRIPTION_MAX:
        errors["description"] = f"Use at most {DESCRIPTION_MAX} characters."
    return text


def _name_taken(name: str, parent_id: int | None, exclude_id: int | None = None) -> bool:
    query = sa.select(Category.id).where(
        sa.func.lower(Category.name) == name.lower(),
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id,
    )
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _slug_taken(slug: str, exclude_id: int | None = None) -> bool:
    query = sa.select(Category.id).where(Category.slug == slug)
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _lock_tree() -> None:
    """Serialise structural changes of the tree (names, slugs, positions) within the tenant."""
    db.session.execute(sa.select(Category.id).where(Category.parent_id.is_(None)).with_for_update())


def create_category(name, *, parent_id=None, slug=None, description=None) -> Category:
    """Add a category (``parent_id`` None) or a subcategory at the end of its siblings; flushes.

    The slug defaults to the name's (``<parent-slug>-<slug>`` when that is taken by another
    branch). Raises CategoryError 422 (bad name or slug, a parent that is itself a
    subcategory, too many categories), 404 (no such parent), 409 (the name exists among
    the siblings, or the slug elsewhere).
    """
    errors: dict[str, str] = {}
    clean_name = _clean_name(name, errors)
    clean_slug = _clean_slug(slug, errors) if slug not in (None, "") else None
    clean_description = _clean_description(description, errors)
    parent = None
    if parent_id not in (None, ""):
        try:
            parent = get_category(parent_id)
        except CategoryError:
            raise CategoryError({"parent_id": "This parent category does not exist."}, 404) from None
        if parent.parent_id is not None:
            errors["parent_id"] = "Subcategories cannot have subcategories: choose a top-level category."
    if errors:
        raise CategoryError(errors)
    _lock_tree()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Category)) >= MAX_CATEGORIES:
        raise CategoryError({"name": f"A marketplace can have at most {MAX_CATEGORIES} categories."})
    parent_id = parent.id if parent is not None else None
    if _name_taken(clean_name, parent_id):
        where = f"in {parent.name}" if parent is not None else "at the top level"
        raise CategoryError({"name": f"A category named {clean_name!r} already exists {where}."}, 409)
    if clean_slug is None:
        clean_slug = slugify(clean_name)
        if _slug_taken(clean_slug) and parent is not None:
            clean_slug = slugify(f"{parent.slug}-{clean_slug}")
    if _slug_taken(clean_slug):
        raise CategoryError({"slug": f"The address /c/{clean_slug} is taken; choose another slug."}, 409)
    position = max((c.position for c in _siblings(parent_id)), default=-1) + 1
    category = Category(
        name=clean_name,
        slug=clean_slug,
        description=clean_description,
        parent_id=parent_id,
        position=position,
    )
    db.session.add(category)
    db.session.flush()
    invalidate_category_cache()
    publish("category.changed", {"category_id": category.id})
    return category


def update_category(category_id, **changes) -> Category:
    """Rename (``name``, optionally a new ``slug``), describe, hide or show (``is_hidden``) and
    move among its siblings (``position``, 0-based) a category; flushes.

    Raises CategoryError 404 (no such category), 422 (bad values, unknown fields), 409 (the
    name exists among the siblings, or the slug elsewhere).
    """
    allowed = {"name", "slug", "description", "is_hidden", "position"}
    errors: dict[str, str] = {field: "cannot be changed" for field in changes if field not in allowed}
    clean: dict = {}
    if "name" in changes:
        clean["name"] = _clean_name(changes["name"], errors)
    if "slug" in changes:
        clean["slug"] = _clean_slug(changes["slug"], errors)
    if "description" in changes:
        clean["description"] = _clean_description(changes["description"], errors)
    if "is_hidden" in changes:
        if not isinstance(changes["is_hidden"], bool):
            errors["is_hidden"] = "must be true or false"
        else:
            clean["is_hidden"] = changes["is_hidden"]
    if "position" in changes:
        value = changes["position"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors["position"] = "must be a whole number from 0"
        else:
            clean["position"] = value
    category = get_category(category_id)
    if errors:
        raise CategoryError(errors)
    _lock_tree()
    category = get_category(category_id, lock=True)
    if "name" in clean and _name_taken(clean["name"], category.parent_id, exclude_id=category.id):
        raise CategoryError({"name": f"A sibling category is already named {clean['name']!r}."}, 409)
    if "slug" in clean and _slug_taken(clean["slug"], exclude_id=category.id):
        raise CategoryError({"slug": f"The address /c/{clean['slug']} is taken; choose another slug."}, 409)
    for field in ("name", "slug", "description", "is_hidden"):
        if field in clean:
            setattr(category, field, clean[field])
    if "position" in clean:
        _move(category, clean["position"])
    db.session.flush()
    invalidate_category_cache()
    publish("category.changed", {"category_id": category.id})
    return category


def _move(category: Category, index: int) -> None:
    """Put ``category`` at ``index`` among its siblings (clamped) and renumber them 0..n-1."""
    siblings = [c for c in _siblings(category.parent_id, lock=True) if c.id != category.id]
    siblings.insert(min(index, len(siblings)), category)
    for position, sibling in enumerate(siblings):
        if sibling.position != position:
            sibling.position = position


def sibling_index(category: Category) -> int:
    return [c.id for c in _siblings(category.parent_id)].index(category.id)


def reorder(parent_id, ordered_ids) -> list[Category]:
    """Set the order of all the children of ``parent_id`` (None: the top level) at once; flushes.

    ``ordered_ids`` must name each sibling exactly once. Raises CategoryError 404 (no such
    parent), 422 (a missing, repeated or foreign id).
    """
    if parent_id is not None:
        get_category(parent_id)
    if not isinstance(ordered_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ordered_ids
    ):
        raise CategoryError({"ids": "must be a list of category ids"})
    _lock_tree()
    siblings = _siblings(parent_id, lock=True)
    if sorted(ordered_ids) != sorted(c.id for c in siblings) or len(set(ordered_ids)) != len(ordered_ids):
        raise CategoryError({"ids": "must list every category of this level exactly once"})
    by_id = {c.id: c for c in siblings}
    for position, category_id in enumerate(ordered_ids):
        by_id[category_id].position = position
    db.session.flush()
    invalidate_category_cache()
    publish("category.changed", {"category_id": parent_id})
    return [by_id[i] for i in ordered_ids]


def snapshot(category: Category) -> dict:
    return {
        "name": category.name,
        "slug": category.slug,
        "description": category.description,
        "is_hidden": category.is_hidden,
        "position": category.position,
        "parent_id": category.parent_id,
    }
