"""The category tree every new marketplace starts with (operators edit it later), and its
``tenant_seed`` receiver: the models alone, not the gigs' services, so that ``flask tenants
create`` imports no more than it writes (docs/design/performance.md, "CLI startup")."""

from __future__ import annotations

from app.core.text import slugify
from app.gigs.models import Category

STARTER_CATEGORIES = [
    (
        "Graphics & Design",
        ["Logo Design", "Brand Style Guides", "Illustration", "UI/UX Design", "Packaging Design"],
    ),
    (
        "Programming & Tech",
        ["Website Development", "Mobile Apps", "Data Engineering", "DevOps & Cloud", "Bug Fixes"],
    ),
    (
        "Digital Marketing",
        ["Search Engine Optimization", "Social Media Marketing", "Email Marketing", "Paid Advertising"],
    ),
    (
        "Writing & Translation",
        ["Articles & Blog Posts", "Copywriting", "Translation", "Proofreading & Editing"],
    ),
    ("Video & Animation", ["Video Editing", "Explainer Videos", "Animated Logos", "Subtitles & Captions"]),
    ("Music & Audio", ["Voice Over", "Mixing & Mastering", "Podcast Editing", "Jingles"]),
    ("Business", ["Virtual Assistant", "Market Research", "Business Plans", "Financial Consulting"]),
    ("Data", ["Data Entry", "Data Analysis", "Data Visualization", "Databases"]),
]


def seed_categories(_sender, *, session, tenant, options) -> list[str]:
    """tenant_seed receiver: the starter category tree."""
    for position, (name, children) in enumerate(STARTER_CATEGORIES):
        parent = Category(name=name, slug=slugify(name), position=position)
        parent.children = [
            Category(name=child, slug=slugify(child), position=i) for i, child in enumerate(children)
        ]
        session.add(parent)
    return []
