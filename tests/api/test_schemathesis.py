"""Schemathesis over the whole OpenAPI spec: no input gets a 500, every answer matches the spec.

One throwaway marketplace ("probe") with a buyer, a seller (with a published gig) and an
operator admin, and orders between them: completed with both reviews published (and a reply),
completed with the buyer's review still unpublished, completed with no review yet, so the
reviews operations meet real resources. Every other generated path id of a reviews operation
is mapped to one of the probe's own (``_map_to_known_ids``), so their reads answer 200 and
their writes meet real rules instead of only 404s. Which generated ids are even is chance, so
each reviews read is also called by the buyer and the seller with each of the probe's ids
(``_call_known``, the same checks); the run asserts each reviews read answered a 2xx.
Every operation of the spec runs a bounded number of generated cases as
each of the three (operator routes too: destructive calls only hurt the probe tenant,
dropped after the test). Default checks: no server error, response schema, status code,
content type and headers conformance. Failures are collected over all operations and
reported together, one line per operation and check.

A fourth role calls every operation with a partner API key (all scopes, acting as the operator
admin), so the key path (scope checks on every route, the refusals of the token and key
operations, the call log) meets the whole spec too; it runs ``SCHEMATHESIS_KEY_EXAMPLES``
(default 2) cases per operation to keep the run's time.

``SCHEMATHESIS_EXAMPLES`` (default 6) sets the cases per operation and role; a probe run
with a few hundred finds what a short run misses (CI keeps it short for the time budget).
"""

from __future__ import annotations

import os
from collections import defaultdict
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from app.accounts import api_keys
from app.accounts.models import ApiKeyCall, User
from app.accounts.services import create_user, upsert_seller_profile
from app.gigs import services as gig_services
from app.gigs.models import Category
from app.orders import services as order_services
from app.reviews import services as review_services
from tenants import provisioning
from tenants.db import db
from tenants.resolver import get_tenant_by_slug

PASSWORD = "probe-password-2026"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
KEY_EXAMPLES = int(os.environ.get("SCHEMATHESIS_KEY_EXAMPLES", "2"))
ROLES = ("buyer", "seller", "operator", "key")
# Schemathesis's default checks for an API (no 5xx; status codes, content types, headers and
# bodies as documented). Positive-data acceptance is left out: the spec cannot say everything a
# service refuses (a gig title already taken, an order in the wrong state).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def probe_tenant(app, in_tenant):
    with app.app_context():
        provisioning.create_tenant(
            "probe",
            "Probe Market",
            base_domain=app.config["BASE_DOMAIN"],
            options={"admin_email": "operator@probe.test", "admin_password": PASSWORD},
        )
        ref = get_tenant_by_slug("probe")
    with in_tenant(ref):
        buyer = create_user("buyer@probe.test", PASSWORD, "Probe Buyer")
        seller = create_user("seller@probe.test", PASSWORD, "Probe Seller")
        for user in (buyer, seller):
            user.email_verified_at = db.func.now()
        db.session.flush()
        upsert_seller_profile(seller, headline="I make things", skills=["design"])
        category = db.session.scalars(db.select(Category).where(Category.parent_id.isnot(None))).first()
        gig = gig_services.create_gig(
            seller,
            {
                "title": "I will design a modern logo for you",
                "description": "A clean logo for your brand, three concepts and vector files.",
                "category_id": category.id,
                "tags": ["logo"],
                "packages": [
                    {
                        "tier": "basic",
                        "title": "Basic",
                        "price_minor": 5000,
                        "delivery_days": 3,
                        "revisions": 1,
                    }
                ],
            },
        )
        gig_services.publish_gig(seller, gig)
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count(User.id))) >= 3
        published, unpublished, unreviewed = (_completed_order(buyer, seller, gig.id) for _ in range(3))
        of_seller = review_services.submit_review(buyer, published, REVIEW)
        of_buyer = review_services.submit_review(seller, published, {"rating": 4, "text": "Clear brief."})
        review_services.reply_to_review(seller, of_seller.id, "Thank you!")
        draft = review_services.submit_review(buyer, unpublished, REVIEW)
        db.session.commit()
        assert (of_seller.status, of_buyer.status, draft.status) == ("published", "published", "submitted")
        known = {
            "order_id": [published, unpublished, unreviewed],
            "review_id": [of_seller.id, of_buyer.id, draft.id],
            "gig_id": [gig.id],
            "user_id": [seller.id, buyer.id],
        }
        operator = db.session.scalars(db.select(User).where(User.email == "operator@probe.test")).one()
        _key, secret = api_keys.create_key(operator, name="Schemathesis", scopes=list(api_keys.SCOPES))
        db.session.commit()
    return SimpleNamespace(ref=ref, known=known, key_secret=secret)


REVIEW = {"rating": 5, "communication": 5, "as_described": 4, "would_recommend": 5, "text": "Lovely logo."}
REVIEW_PATHS = ("/reviews", "/reputation")


def _completed_order(buyer, seller, gig_id) -> int:
    order = order_services.place_order(buyer, gig_id, "basic", [], 1)
    order_services.mark_paid(order.id, f"pay_probe_{order.id}")
    order_services.submit_requirements(buyer, order.id, "Navy and gold.")
    order_services.deliver(seller, order.id, "Three concepts.")
    order_services.complete(buyer, order.id)
    return order.id


def _is_reviews_operation(operation) -> bool:
    return any(part in operation.path for part in REVIEW_PATHS) and not operation.path.startswith(
        "/api/v1/console"
    )


def _map_to_known_ids(schema, known: dict[str, list[int]]) -> None:
    """Every other generated id of a reviews operation becomes one of the probe's resources."""

    @schema.hook
    def map_path_parameters(context, path_parameters):
        if context.operation is None or not _is_reviews_operation(context.operation):
            return path_parameters
        for name, value in path_parameters.items():
            if name in known and isinstance(value, int) and value % 2 == 0:
                ids = known[name]
                path_parameters[name] = ids[(value // 2) % len(ids)]
        return path_parameters

    @schema.hook
    def map_query(context, query):
        """A generated `cursor` is never a real one (always a 422, tests/api/test_pagination.py),
        nor is `page` with `limit`: a reviews read keeps its other generated parameters."""
        if context.operation is None or not _is_reviews_operation(context.operation) or not query:
            return query
        query.pop("cursor", None)
        if "limit" in query:
            query.pop("page", None)
            query.pop("page_size", None)
        return query


def _tokens(client) -> dict[str, dict[str, str]]:
    headers = {}
    for role, email in (
        ("buyer", "buyer@probe.test"),
        ("seller", "seller@probe.test"),
        ("operator", "operator@probe.test"),
    ):
        response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.json
        headers[role] = {"Authorization": f"Bearer {response.json['access_token']}"}
    return headers


def _run_operation(
    operation, app, base_url: str, headers: dict, failures: dict, statuses: dict, examples: int = EXAMPLES
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report and move on
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        try:
            response = case.call_and_validate(base_url=base_url, headers=headers, app=app, checks=CHECKS)
            statuses[operation.label].add(response.status_code)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures[f"{operation.label}: {failure.title}"].append(
                    f"{failure.message.splitlines()[0] if failure.message else ''} <- {case.method} "
                    f"{case.formatted_path} query={case.query} body={str(case.body)[:200]}"
                )
        except Exception as exc:  # a check could not even run (e.g. the response is not JSON)
            failures[f"{operation.label}: {type(exc).__name__}"].append(str(exc)[:300])

    run()


def _call_known(
    operation, app, base_url: str, role_headers: dict, known: dict, failures: dict, statuses: dict
) -> None:
    """A reviews read called by the buyer and the seller with each of the probe's own ids (the
    generated cases meet them only by chance): its answers are checked like the generated ones."""
    names = [p.name for p in operation.path_parameters]
    for index in range(max(len(known[name]) for name in names)):
        path_parameters = {name: known[name][index % len(known[name])] for name in names}
        for role in ("buyer", "seller"):
            case = operation.Case(path_parameters=path_parameters)
            try:
                response = case.call_and_validate(
                    base_url=base_url, headers=role_headers[role], app=app, checks=CHECKS
                )
                statuses[operation.label].add(response.status_code)
            except FailureGroup as group:
                for failure in group.exceptions:
                    failures[f"{operation.label}: {failure.title}"].append(f"{role} {case.formatted_path}")


@pytest.mark.slow
def test_no_operation_of_the_spec_fails_schemathesis_checks(app, probe_tenant, tenant_client, in_tenant):
    client = tenant_client("probe")
    role_headers = _tokens(client)
    role_headers["key"] = {"Authorization": f"Bearer {probe_tenant.key_secret}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers={"Host": "probe.localhost"})
    _map_to_known_ids(schema, probe_tenant.known)
    base_url = f"http://probe.{app.config['BASE_DOMAIN']}"
    failures: dict[str, list[str]] = defaultdict(list)
    statuses: dict[str, set[int]] = defaultdict(set)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:
        for role in ROLES:
            examples = KEY_EXAMPLES if role == "key" else EXAMPLES
            _run_operation(operation, app, base_url, role_headers[role], failures, statuses, examples)
    reads = [op for op in operations if _is_reviews_operation(op) and op.method.upper() == "GET"]
    for operation in reads:
        if all(p.name in probe_tenant.known for p in operation.path_parameters):
            _call_known(operation, app, base_url, role_headers, probe_tenant.known, failures, statuses)
    report = "\n".join(f"{name} ({len(cases)}x): {cases[0]}" for name, cases in sorted(failures.items()))
    assert not failures, f"{len(failures)} failing operation checks:\n{report}"
    # The reviews reads met the probe's reviews, not only 404s.
    assert len(reads) >= 7
    unanswered = {
        op.label: sorted(statuses[op.label])
        for op in reads
        if not any(200 <= s < 300 for s in statuses[op.label])
    }
    assert not unanswered, f"reviews reads that never answered 2xx: {unanswered}"
    # The key's calls were logged, by URL rule.
    with in_tenant(probe_tenant.ref):
        routes = set(db.session.scalars(db.select(ApiKeyCall.route).distinct()))
    assert "/api/v1/orders" in routes and len(routes) > 50
