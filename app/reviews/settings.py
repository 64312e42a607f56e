"""The seller level thresholds an operator tunes (the console's reputation settings).

They live on the tenant's ``review_settings`` row (``level_thresholds``), over the defaults
of ``app.reviews.reputation.DEFAULT_THRESHOLDS``: ``level_thresholds()`` is what the levels
are computed with, ``update_level_thresholds(data)`` checks and saves a change. The review
window and the banned words are ``services.update_review_settings``'s.

Each level has five thresholds, each met at ``>=``: ``orders`` (completed), ``earnings_minor``
(minor units of the marketplace's currency), ``rating`` (average, 0-5), ``on_time_rate``
(percent, 0-100) and ``days_active``. The levels ascend field by field: Level 2 asks at least
what Level 1 asks, Top Rated at least what Level 2 asks; otherwise a seller could be Top Rated
without qualifying for Level 2, and the levels would no longer mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from app.accounts.models import SELLER_LEVELS
from app.core import money

# A module import, not ``from ... import DEFAULT_THRESHOLDS``: reputation may import this module
# at its top (to read the thresholds) without a circular import failing.
from app.reviews import reputation
from app.reviews.models import ReviewSettings
from app.reviews.services import ReviewError
from app.settings.services import settings_row
from tenants.db import db

LEVELS = ("level_1", "level_2", "top_rated")  # lowest first: each asks at least the one before


@dataclass(frozen=True)
class ThresholdRule:
    label: str
    low: int
    high: int
    decimals: int  # 0: whole numbers only


RULES: dict[str, ThresholdRule] = {
    "orders": ThresholdRule("Orders completed", 0, 1_000_000, 0),
    "earnings_minor": ThresholdRule("Earnings", 0, money.MAX_MINOR, 0),
    "rating": ThresholdRule("Average rating", 0, 5, 2),
    "on_time_rate": ThresholdRule("On-time delivery (%)", 0, 100, 2),
    "days_active": ThresholdRule("Days active", 0, 36_500, 0),
}


def defaults() -> dict[str, dict[str, int | float]]:
    """A copy of the defaults every tenant starts with."""
    return {level: dict(reputation.DEFAULT_THRESHOLDS[level]) for level in LEVELS}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def level_thresholds(row: ReviewSettings | None = None) -> dict[str, dict[str, int | float]]:
    """The thresholds of every level: the saved values over the defaults (a fresh dict).

    ``row`` is the tenant's ``review_settings`` row (read when not given)."""
    if row is None:
        row = db.session.get(ReviewSettings, 1)
    saved = (row.level_thresholds if row is not None else None) or {}
    merged = defaults()
    for level, values in merged.items():
        stored = saved.get(level)
        if not isinstance(stored, dict):
            continue
        for field in values:
            if _is_number(stored.get(field)):
                values[field] = stored[field]
    return merged


def _currency() -> str:
    return settings_row().currency


def describe(field: str, value: int | float, currency: str | None = None) -> str:
    """A threshold as people read it: money for earnings, a percent for the on-time rate."""
    if field == "earnings_minor":
        return money.format(int(value), currency or _currency())
    if field == "on_time_rate":
        return f"{value:g} %"
    if field == "rating":
        return f"{value:g}"
    return f"{int(value):,}"


def _parse(value: Any, rule: ThresholdRule) -> int | float | None:
    """A number within the rule, or None. Text like "4.5" (or "4,5") is read too: web forms."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".")
        if not text or len(text) > 20:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    elif isinstance(value, int | float | Decimal):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite() or not rule.low <= number <= rule.high:
        return None
    if number == number.to_integral_value():
        return int(number)
    if -number.normalize().as_tuple().exponent > rule.decimals:
        return None
    return float(number)


def _refusal(rule: ThresholdRule, level: str) -> str:
    where = f"{SELLER_LEVELS[level]}, {rule.label[0].lower()}{rule.label[1:]}"
    if rule is RULES["earnings_minor"]:
        return f"{where}: enter an amount of 0 or more, in minor units."
    what = "a whole number" if rule.decimals == 0 else f"a number with at most {rule.decimals} decimals"
    return f"{where}: enter {what} from {rule.low} to {rule.high:,}."


def check_level_thresholds(data: Any, current: dict | None = None) -> dict[str, dict[str, int | float]]:
    """``data`` (``{level: {field: value}}``, any part of it) applied over ``current`` (the
    saved thresholds by default) and checked; returns the complete thresholds.

    Raises ReviewError with field errors named ``<level>.<field>`` (``level_2.orders``):
    unknown levels or fields, values out of range or not numbers, levels that do not ascend.
    """
    errors: dict[str, str] = {}
    merged = current if current is not None else level_thresholds()
    merged = {level: dict(values) for level, values in merged.items()}
    if not isinstance(data, dict):
        raise ReviewError(
            "Please correct the thresholds.", {"level_thresholds": "Give thresholds per level."}
        )
    for level, values in data.items():
        if level not in LEVELS:
            errors[str(level)] = f"Unknown level; use {', '.join(LEVELS)}."
            continue
        if not isinstance(values, dict):
            errors[level] = "Give the level's thresholds: " + ", ".join(RULES) + "."
            continue
        for field, value in values.items():
            rule = RULES.get(field)
            if rule is None:
                errors[f"{level}.{field}"] = f"Unknown threshold; use {', '.join(RULES)}."
                continue
            number = _parse(value, rule)
            if number is None:
                errors[f"{level}.{field}"] = _refusal(rule, level)
            else:
                merged[level][field] = number
    currency = None
    for field in RULES:
        for lower, higher in zip(LEVELS, LEVELS[1:], strict=False):
            if f"{lower}.{field}" in errors or f"{higher}.{field}" in errors:
                continue
            if merged[higher][field] < merged[lower][field]:
                if field == "earnings_minor" and currency is None:
                    currency = _currency()
                errors[f"{higher}.{field}"] = (
                    f"{SELLER_LEVELS[higher]} must ask at least what {SELLER_LEVELS[lower]} asks "
                    f"({describe(field, merged[lower][field], currency)})."
                )
    if errors:
        raise ReviewError("Please correct the level thresholds.", errors)
    return merged


def _settings_row_for_update() -> ReviewSettings:
    # Created on first need with the column defaults; ON CONFLICT: two first saves at once
    # both end up with the one row instead of a unique violation.
    db.session.execute(insert(ReviewSettings).values(id=1).on_conflict_do_nothing(index_elements=["id"]))
    return db.session.execute(
        sa.select(ReviewSettings)
        .where(ReviewSettings.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def update_level_thresholds(data: Any) -> tuple[dict[str, dict[str, int | float]], dict[str, list]]:
    """Check and save level thresholds (``{level: {field: value}}``, any part of it; the rest
    keeps its saved or default value); flushes.

    Returns the complete thresholds and the changes ``{"<level>.<field>": [old, new]}`` (for the
    console's audit; empty when nothing changed, and nothing is written then). Raises
    ReviewError with field errors (nothing changed): see ``check_level_thresholds``.
    """
    row = _settings_row_for_update()
    before = level_thresholds(row)
    after = check_level_thresholds(data, before)
    changes = {
        f"{level}.{field}": [before[level][field], after[level][field]]
        for level in LEVELS
        for field in RULES
        if before[level][field] != after[level][field]
    }
    if changes:
        row.level_thresholds = after  # a new dict: JSONB changes are seen on assignment
        db.session.flush()
    return after, changes
