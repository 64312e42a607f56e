"""Schemathesis over the whole OpenAPI spec: no input gets a 500, every answer matches the spec.

One throwaway marketplace ("probe") with a buyer, a seller (with a published gig) and an
operator admin; every operation of the spec runs a bounded number of generated cases as
each of the three (operator routes too: destructive calls only hurt the probe tenant,
dropped after the test). Default checks: no server error, response schema, status code,
content type and headers conformance. Failures are collected over all operations and
reported together, one line per operation and check.

``SCHEMATHESIS_EXAMPLES`` (default 6) sets the cases per operation and role; a probe run
with a few hundred finds what a short run misses (CI keeps it short for the time budget).
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from app.accounts.models import User
from app.accounts.services import create_user, upsert_seller_profile
from app.gigs import services as gig_services
from app.gigs.models import Category
from tenants import provisioning
from tenants.db import db
from tenants.resolver import get_tenant_by_slug

PASSWORD = "probe-password-2026"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
ROLES = ("buyer", "seller", "operator")
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
    return ref


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


def _run_operation(operation, app, base_url: str, headers: dict, failures: dict) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report and move on
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        try:
            case.call_and_validate(base_url=base_url, headers=headers, app=app, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                failures[f"{operation.label}: {failure.title}"].append(
                    f"{failure.message.splitlines()[0] if failure.message else ''} <- {case.method} "
                    f"{case.formatted_path} query={case.query} body={str(case.body)[:200]}"
                )
        except Exception as exc:  # a check could not even run (e.g. the response is not JSON)
            failures[f"{operation.label}: {type(exc).__name__}"].append(str(exc)[:300])

    run()


@pytest.mark.slow
def test_no_operation_of_the_spec_fails_schemathesis_checks(app, probe_tenant, tenant_client):
    client = tenant_client("probe")
    role_headers = _tokens(client)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers={"Host": "probe.localhost"})
    base_url = f"http://probe.{app.config['BASE_DOMAIN']}"
    failures: dict[str, list[str]] = defaultdict(list)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:
        for role in ROLES:
            _run_operation(operation, app, base_url, role_headers[role], failures)
    report = "\n".join(f"{name} ({len(cases)}x): {cases[0]}" for name, cases in sorted(failures.items()))
    assert not failures, f"{len(failures)} failing operation checks:\n{report}"
