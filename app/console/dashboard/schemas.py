"""Marshmallow schemas of the console API's dashboard.

The query schema checks shapes and types; the rules (valid periods and ranges) are
``kpis.resolve_period``'s. Money is integer minor units.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.console.dashboard.kpis import PRESETS
from app.core.schema import Schema
from app.orders.models import ORDER_STATUSES

MINOR = {"description": "Integer minor units (cents) of the currency."}
DAY = {"description": "A UTC day, inclusive (YYYY-MM-DD).", "example": "2024-05-31"}


class ConsoleDashboardArgs(Schema):
    period = fields.Str(
        validate=validate.OneOf(list(PRESETS)),
        metadata={
            "description": "A preset ending today (default 30d); ignored when from/to are given.",
            "example": "30d",
        },
    )
    date_from = fields.Str(data_key="from", metadata={**DAY, "example": "2024-05-01"})
    date_to = fields.Str(data_key="to", metadata=DAY)


class DashboardPeriodSchema(Schema):
    key = fields.Str(metadata={"example": "30d", "description": "The preset, or `custom`."})
    label = fields.Str(metadata={"example": "Last 30 days"})
    first_day = fields.Date()
    last_day = fields.Date()
    previous_first_day = fields.Date()
    previous_last_day = fields.Date()
    granularity = fields.Str(metadata={"enum": ["day", "week", "month"], "example": "day"})


class KpiFigureSchema(Schema):
    key = fields.Str(
        metadata={
            "enum": [
                "gmv",
                "commission",
                "refunds",
                "orders",
                "paid_orders",
                "average_order",
                "new_users",
                "active_sellers",
                "reviews",
                "jobs_posted",
                "contracts_started",
                "milestones_paid",
                "contract_gmv",
            ],
            "example": "gmv",
            "description": "The marketplace's figures, then the jobs-and-contracts ones: `jobs_posted` "
            "(published in the period), `contracts_started` (activated), `milestones_paid` (contract "
            "milestones released), `contract_gmv` (the ledger payments of contract engagements: the "
            "contracts' part of `gmv`, which includes every milestone payment).",
        }
    )
    label = fields.Str(metadata={"example": "GMV"})
    value = fields.Int(metadata={"example": 1250000, "description": "This period (money in minor units)."})
    previous = fields.Int(
        metadata={"example": 990000, "description": "The previous period of the same length."}
    )
    kind = fields.Str(metadata={"enum": ["money", "count"]})
    change_pct = fields.Float(
        allow_none=True, metadata={"example": 26.3, "description": "null when previous is 0."}
    )


class OrderStatusCountSchema(Schema):
    status = fields.Str(metadata={"enum": list(ORDER_STATUSES)})
    label = fields.Str()
    count = fields.Int()


class CategoryGmvSchema(Schema):
    category_id = fields.Int(
        allow_none=True, metadata={"description": "null: custom offers and deleted gigs."}
    )
    name = fields.Str(metadata={"example": "Graphics & Design"})
    gmv_minor = fields.Int(metadata=MINOR)
    orders = fields.Int()


class DashboardPointSchema(Schema):
    day = fields.Date(
        metadata={"description": "First day of the bucket (day, Monday of the week, or 1st of the month)."}
    )
    label = fields.Str(metadata={"example": "3 May"})
    gmv_minor = fields.Int(metadata=MINOR)
    orders = fields.Int()
    new_users = fields.Int()
    commission_minor = fields.Int(metadata=MINOR)
    reviews = fields.Int(metadata={"description": "Reviews published (and still published).", "example": 3})
    average_rating = fields.Float(
        allow_none=True,
        metadata={"description": "Average of buyers' ratings of sellers; null: none.", "example": 4.67},
    )
    disputes_opened = fields.Int(metadata={"example": 1})
    disputes_resolved = fields.Int(metadata={"description": "Resolved or dismissed.", "example": 2})


class DashboardDisputesSchema(Schema):
    open = fields.Int(metadata={"description": "Disputes open now.", "example": 4})
    median_hours = fields.Float(
        allow_none=True,
        metadata={
            "description": "Median hours from opening to the end of the disputes that ended in the period; "
            "null: none ended.",
            "example": 52.5,
        },
    )
    refunded_minor = fields.Int(
        metadata={**MINOR, "description": "What the disputes that ended in the period refunded to buyers."}
    )
    opened = fields.Int(metadata={"description": "Disputes opened in the period.", "example": 6})
    ended = fields.Int(
        metadata={"description": "Disputes resolved or dismissed in the period.", "example": 5}
    )


class DashboardRatingSchema(Schema):
    average = fields.Float(
        allow_none=True,
        metadata={
            "description": "Average overall rating (1-5) of buyers' reviews of sellers published in the "
            "period and still published; null when there are none.",
            "example": 4.62,
        },
    )
    previous = fields.Float(
        allow_none=True, metadata={"description": "The previous period's.", "example": 4.5}
    )
    count = fields.Int(metadata={"description": "How many reviews the average is of.", "example": 48})
    previous_count = fields.Int(metadata={"example": 41})
    change = fields.Float(
        allow_none=True,
        metadata={"description": "average - previous, in stars; null when either is null.", "example": 0.12},
    )


class DashboardSchema(Schema):
    period = fields.Nested(DashboardPeriodSchema)
    currency = fields.Str(metadata={"example": "USD"})
    figures = fields.List(
        fields.Nested(KpiFigureSchema),
        attribute="tiles",
        metadata={"description": "The KPI tiles, each with the previous period's value."},
    )
    orders_by_status = fields.List(fields.Nested(OrderStatusCountSchema))
    top_categories = fields.List(fields.Nested(CategoryGmvSchema))
    series = fields.List(fields.Nested(DashboardPointSchema))
    rating = fields.Nested(DashboardRatingSchema)
    disputes = fields.Nested(DashboardDisputesSchema)
    other_currencies = fields.Dict(
        keys=fields.Str(),
        values=fields.Int(),
        metadata={"description": "GMV paid in other currencies (not in the figures).", "example": {}},
    )
