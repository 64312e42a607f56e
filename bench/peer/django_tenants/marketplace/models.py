"""The tenant schema: as many tables as Gigforge's tenant schema, of the same shape.

``SHAPES`` is Gigforge's tenant schema at tenant head ``t0034`` (87 tables), read back from a provisioned
schema (``bench.peer_compare --print-shapes`` prints it again): per table, its column count,
the tables its foreign keys point to and its indexes beyond the primary key and the foreign
keys'. Each becomes a model here: a ``BigAutoField`` key, one ``ForeignKey`` (indexed) per
foreign key, and plain columns up to the count, the first ones indexed. The names and types
of the plain columns are not Gigforge's; the table, column, foreign-key and index counts are.
With ``django_migrations`` the schema has as many tables as Gigforge's with ``alembic_version``.
"""

from django.db import models

# (table, columns, foreign-key targets, further indexes)
SHAPES = [
    ("api_key_calls", 8, ["api_keys"], 1),
    ("api_keys", 12, ["users", "users"], 0),
    ("api_tokens", 11, ["users"], 2),
    ("audit_log", 11, ["users"], 2),
    ("billing_methods", 12, ["users"], 0),
    ("categories", 8, ["categories"], 1),
    ("ci_runs", 11, ["repo_links", "pull_requests"], 1),
    ("code_deliveries", 6, ["repo_links"], 1),
    ("contract_changes", 11, ["contracts", "users", "users"], 0),
    ("contracts", 24, ["users", "users", "users", "jobs", "orders", "proposals"], 0),
    ("conversation_participants", 5, ["conversations", "users"], 0),
    ("conversations", 7, ["gigs"], 2),
    ("custom_offers", 17, ["users", "conversations", "gigs", "orders", "users"], 0),
    ("dispute_events", 7, ["users", "disputes"], 0),
    ("dispute_evidence", 13, ["users", "disputes"], 0),
    ("dispute_experts", 4, ["users", "users"], 0),
    ("dispute_proposals", 12, ["users", "disputes"], 0),
    ("dispute_settings", 7, [], 0),
    (
        "disputes",
        30,
        [
            "users",
            "users",
            "users",
            "users",
            "users",
            "users",
            "order_milestones",
            "users",
            "orders",
            "users",
        ],
        0,
    ),
    ("email_messages", 12, ["users"], 1),
    ("featured_gigs", 4, ["users", "gigs"], 0),
    ("gig_extras", 7, ["gigs"], 0),
    ("gig_faqs", 5, ["gigs"], 0),
    ("gig_images", 8, ["gigs"], 0),
    ("gig_packages", 10, ["gigs"], 0),
    ("gig_views", 3, ["gigs", "users"], 0),
    ("gigs", 26, ["categories", "users", "users"], 4),
    ("hourly_rate_changes", 11, ["contracts", "users", "users"], 0),
    ("idempotency_keys", 9, [], 2),
    ("identity_providers", 7, [], 1),
    ("job_attachments", 9, ["jobs", "proposals", "users"], 0),
    ("job_invites", 8, ["users", "jobs"], 0),
    ("job_settings", 7, [], 0),
    ("job_templates", 13, [], 1),
    ("jobs", 29, ["categories", "users", "users", "job_templates"], 2),
    ("ledger_accounts", 10, [], 4),
    ("ledger_entries", 5, ["ledger_accounts", "ledger_accounts", "ledger_transactions"], 0),
    ("ledger_transactions", 10, [], 5),
    ("marketplace_settings", 31, [], 0),
    ("message_attachments", 8, ["messages", "users"], 0),
    ("messages", 7, ["conversations", "messages", "users"], 0),
    ("notification_preferences", 5, ["users"], 0),
    ("notifications", 13, ["users"], 4),
    ("order_cancellations", 10, ["orders", "users", "users"], 0),
    ("order_deliveries", 6, ["orders", "users"], 0),
    ("order_events", 6, ["users", "orders"], 0),
    ("order_milestones", 23, ["orders"], 1),
    ("orders", 29, ["users", "gigs", "gig_packages", "users"], 3),
    ("outbox_events", 9, [], 1),
    ("payments", 14, ["users", "order_milestones", "orders"], 1),
    ("payout_holds", 8, ["users", "users", "users"], 0),
    ("payouts", 12, ["payouts", "users"], 2),
    ("portfolio_items", 7, ["users"], 0),
    ("processed_events", 3, ["outbox_events"], 0),
    ("processed_webhooks", 5, [], 1),
    ("proposals", 16, ["users", "jobs"], 1),
    ("pull_requests", 10, ["repo_links"], 0),
    ("refunds", 13, ["orders", "payments"], 2),
    ("repo_links", 10, ["contracts", "users", "users"], 0),
    ("reputation_snapshots", 19, ["users"], 1),
    ("review_reports", 9, ["users", "users", "reviews"], 0),
    ("review_settings", 6, [], 0),
    ("review_votes", 3, ["reviews", "users"], 0),
    ("review_windows", 9, ["users", "gigs", "orders", "users"], 0),
    ("reviews", 23, ["users", "gigs", "users", "review_windows", "users"], 0),
    ("saved_gigs", 5, ["gigs", "saved_lists", "users"], 0),
    ("saved_lists", 6, ["users"], 1),
    ("seller_payment_accounts", 11, ["users"], 1),
    ("seller_profiles", 13, ["users"], 0),
    ("sow_signatures", 9, ["statements_of_work", "users"], 0),
    ("statements_of_work", 6, ["contracts"], 0),
    ("stored_files", 14, ["users"], 1),
    ("time_entries", 13, ["contracts", "users", "order_milestones", "workroom_tasks", "timesheets"], 0),
    ("timesheets", 23, ["users", "contracts", "order_milestones"], 0),
    ("user_identities", 9, ["users"], 1),
    ("user_recovery_codes", 5, ["users"], 0),
    ("user_sessions", 12, ["users"], 1),
    ("user_two_factor", 5, ["users"], 0),
    ("users", 20, [], 3),
    ("webhook_attempts", 10, ["webhook_deliveries"], 0),
    ("webhook_deliveries", 11, ["webhook_endpoints", "webhook_events"], 2),
    ("webhook_endpoints", 18, ["users"], 0),
    ("webhook_events", 6, [], 2),
    ("workroom_events", 13, ["contracts", "users"], 0),
    ("workroom_files", 10, ["contracts", "order_milestones", "users"], 0),
    ("workroom_reminders", 4, ["workroom_events"], 0),
    ("workroom_tasks", 12, ["users", "contracts", "users", "order_milestones"], 0),
]

PLAIN_TYPES = [
    lambda: models.CharField(max_length=200, default=""),
    lambda: models.IntegerField(default=0),
    lambda: models.DateTimeField(null=True),
    lambda: models.BooleanField(default=False),
    lambda: models.TextField(default=""),
    lambda: models.BigIntegerField(default=0),
]


def model_name(table: str) -> str:
    return "".join(part.capitalize() for part in table.split("_"))


def _build(table: str, columns: int, targets: list[str], indexes: int) -> type[models.Model]:
    attrs: dict = {
        "__module__": __name__,
        "Meta": type("Meta", (), {"db_table": table, "app_label": "marketplace"}),
    }
    for n, target in enumerate(targets, start=1):
        attrs[f"fk{n:02d}_{target}"] = models.ForeignKey(
            "self" if target == table else model_name(target),
            on_delete=models.CASCADE,
            null=True,
            related_name="+",
        )
    plain = max(0, columns - 1 - len(targets))
    for n in range(1, plain + 1):
        if n <= indexes:  # an integer: one index (a CharField's would be two on PostgreSQL)
            attrs[f"c{n:02d}"] = models.BigIntegerField(default=0, db_index=True)
        else:
            attrs[f"c{n:02d}"] = PLAIN_TYPES[(n - 2) % len(PLAIN_TYPES)]()
    return type(model_name(table), (models.Model,), attrs)


MODELS = {table: _build(table, *shape) for table, *shape in SHAPES}
Categories = MODELS["categories"]
