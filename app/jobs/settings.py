"""The operator's jobs settings: the weights of the matching score, per tenant.

``score = w1·skill_match + w2·portfolio_fit + w3·reviews + w4·delivery_score + w5·availability``
(``app/jobs/matching.py``). Each weight is 0 to 1 (three decimals at most) and at least one is
above 0; only their proportions rank (matching scales them to sum 1, ``tenant_weights()``), so
"everything 1" means "every term counts the same". They live on the tenant's ``job_settings``
row, written when the operator first saves; until then ``DEFAULT_WEIGHTS`` apply.

``TERMS`` defines each term as the console shows it (and docs/design/jobs-and-contracts.md).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from app.jobs.matching import AVAILABILITY, DEFAULT_WEIGHTS, PRIOR_COUNT, PRIOR_MEAN
from app.jobs.models import MATCHING_TERMS, JobSettings
from app.jobs.services import JobError
from tenants.db import db

WEIGHT_DECIMALS = 3

# term -> (label, symbol in the formula, definition)
TERMS: dict[str, tuple[str, str, str]] = {
    "skill_match": (
        "Skill match",
        "w1",
        "The share of the job's skills that the freelancer lists on their seller profile (any case): "
        "4 of 5 skills is 0.8. A job naming no skills gives everyone 0.5.",
    ),
    "portfolio_fit": (
        "Portfolio fit",
        "w2",
        "The share of the job's skills named in the titles and descriptions of the freelancer's "
        "portfolio items. A job naming no skills gives everyone 0.5.",
    ),
    "reviews": (
        "Reviews",
        "w3",
        f"The freelancer's average rating, pulled towards {PRIOR_MEAN} stars as if they had "
        f"{PRIOR_COUNT} more reviews of {PRIOR_MEAN} stars, divided by 5: no reviews give 0.5, many "
        "good reviews approach their average (4.8 stars from 100 reviews: 0.94).",
    ),
    "delivery_score": (
        "On-time delivery",
        "w4",
        "The share of orders the freelancer delivered on time, from their latest daily reputation "
        "snapshot (98 % on time: 0.98); 0.5 until they have one.",
    ),
    "availability": (
        "Availability",
        "w5",
        "What the freelancer declares on their seller profile: "
        + ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in AVAILABILITY.items())
        + ".",
    ),
}


def matching_weights() -> dict[str, float]:
    """The weights as the operator saved them (``DEFAULT_WEIGHTS`` until then), unscaled."""
    row = db.session.get(JobSettings, 1)
    return row.weights() if row is not None else dict(DEFAULT_WEIGHTS)


def _weight(value: Any) -> float | None:
    """A number 0..1 with at most three decimals, or None. Text ("0.35", "0,35") is read too."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:  # a decimal comma
            text = text.replace(",", ".")
        if not text or len(text) > 12:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    elif isinstance(value, int | float):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite() or not 0 <= number <= 1:
        return None
    if number != number.to_integral_value() and -number.normalize().as_tuple().exponent > WEIGHT_DECIMALS:
        return None
    return float(number)


def update_matching_weights(data: Any) -> tuple[dict[str, float], dict[str, list]]:
    """Save any of the five weights (``{term: weight}``; the others keep their values).

    Returns the saved weights and the ``{"weights.<term>": [old, new]}`` changes (for the audit).
    Raises JobError with field errors named by term (``skill_match``), ``weights`` when none
    would be above 0 or a term is unknown; nothing is saved then.
    """
    if not isinstance(data, dict):
        raise JobError({"weights": "Give the weights as {term: number}."})
    errors: dict[str, str] = {}
    for term in data:
        if term not in MATCHING_TERMS:
            errors[str(term)[:40]] = f"Unknown term; the terms are {', '.join(MATCHING_TERMS)}."
    current = matching_weights()
    new = dict(current)
    for term in MATCHING_TERMS:
        if term not in data:
            continue
        value = _weight(data[term])
        if value is None:
            errors[term] = f"{TERMS[term][0]}: a number from 0 to 1 with at most {WEIGHT_DECIMALS} decimals."
        else:
            new[term] = value
    if not errors and not any(v > 0 for v in new.values()):
        errors["weights"] = "At least one weight must be above 0, or nothing would rank."
    if errors:
        raise JobError("Please correct the weights.", errors)
    changes = {
        f"weights.{term}": [current[term], new[term]] for term in MATCHING_TERMS if current[term] != new[term]
    }
    if changes:
        row = db.session.get(JobSettings, 1, with_for_update=True)
        if row is None:
            row = JobSettings(id=1)
            db.session.add(row)
        for term, value in new.items():
            setattr(row, f"{term}_weight", value)
        db.session.flush()
    return new, changes
