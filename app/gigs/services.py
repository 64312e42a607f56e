"""Catalog rules: categories (gigs arrive with the catalog issue)."""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.gigs.models import Category
from app.gigs.starter_categories import STARTER_CATEGORIES
from tenants.db import db


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "category"


def category_tree(include_hidden: bool = False) -> list[Category]:
    """Top-level categories with their children loaded, in display order."""
    query = (
        sa.select(Category)
        .where(Category.parent_id.is_(None))
        .options(selectinload(Category.children))
        .order_by(Category.position, Category.id)
    )
    if not include_hidden:
        query = query.where(Category.is_hidden.is_(False))
    return list(db.session.execute(query).scalars())


def seed_categories(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the starter category tree."""
    for position, (name, children) in enumerate(STARTER_CATEGORIES):
        parent = Category(name=name, slug=slugify(name), position=position)
        parent.children = [
            Category(name=child, slug=slugify(child), position=i) for i, child in enumerate(children)
        ]
        session.add(parent)
    return []
