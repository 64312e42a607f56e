"""Custom domains in the tenancy engine: hostname rules, pending until verified, the
pluggable verifier (a real DNS exchange with a local server), the CLI, and resolution."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import dns.message
import dns.rcode
import dns.rrset
import pytest
import sqlalchemy as sa

from tenants import domains
from tenants.db import db
from tenants.models import TenantDomain, utcnow
from tenants.resolver import TENANT, UNKNOWN


class LocalDns:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP) answering TXT questions from a dict."""

    def __init__(self, records: dict[str, list[str]], *, silent: bool = False):
        self.records = records
        self.silent = silent
        self.questions: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text(omit_final_dot=True)
            self.questions.append(name)
            if self.silent:
                continue
            response = dns.message.make_response(query)
            values = self.records.get(name)
            if values:
                quoted = [f'"{v}"' for v in values]
                response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "TXT", *quoted))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), addr)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def local_dns(app, monkeypatch):
    servers = []

    def start(records, **kwargs):
        server = LocalDns(records, **kwargs)
        servers.append(server)
        monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", "tenants.domains.DnsTxtVerifier")
        monkeypatch.setitem(app.config, "DOMAIN_DNS_NAMESERVERS", [f"127.0.0.1:{server.port}"])
        monkeypatch.setitem(app.config, "DOMAIN_DNS_TIMEOUT", 1.0)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def static_records(app, monkeypatch):
    records: dict[str, list[str]] = {}
    monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", "tenants.domains.StaticTxtVerifier")
    monkeypatch.setitem(app.config, "DOMAIN_VERIFIER_RECORDS", records)
    return records


def add(app, tenant, hostname) -> tuple[int, str]:
    with app.app_context():
        domain = domains.add_custom_domain(tenant.id, hostname)
        result = domain.id, domain.verification_token
        db.session.commit()
        return result


def row(app, domain_id) -> TenantDomain | None:
    with app.app_context():
        domain = db.session.get(TenantDomain, domain_id)
        if domain is not None:
            db.session.expunge(domain)
        return domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("shop.acme.com", "shop.acme.com"),
        ("  Shop.ACME.com.  ", "shop.acme.com"),
        ("bücher.example.org", "xn--bcher-kva.example.org"),
        ("a-b.co.uk", "a-b.co.uk"),
    ],
)
def test_hostnames_are_normalised(app, raw, expected):
    with app.app_context():
        assert domains.clean_hostname(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter a hostname"),
        ("https://shop.acme.com", "only the hostname"),
        ("shop.acme.com/path", "only the hostname"),
        ("shop.acme.com:8080", "valid hostname"),
        ("acme", "valid hostname"),
        ("-shop.acme.com", "valid hostname"),
        ("shop..acme.com", "valid hostname"),
        ("*.acme.com", "valid hostname"),
        ("a" * 64 + ".com", "valid hostname"),
        ("10.0.0.1", "valid hostname"),
        ("1.2.3.4444", "IP address"),
        ("localhost", "valid hostname"),
        ("globex.localhost", "belongs to the platform"),
        ("127.0.0.1", "valid hostname"),
        ("printer.local", "reserved name"),
        ("shop.test", "reserved name"),
        (None, "Enter a hostname"),
    ],
)
def test_malformed_and_platform_hostnames_are_refused(app, raw, message):
    with app.app_context(), pytest.raises(domains.DomainError) as caught:
        domains.clean_hostname(raw)
    assert message in caught.value.message and caught.value.status == 422


def test_a_pending_domain_does_not_resolve_until_verified(app, acme, static_records):
    resolver = app.extensions["tenants"]
    domain_id, token = add(app, acme, "shop.acme-market.com")
    assert row(app, domain_id).status == "pending" and len(token) == 32
    with app.app_context():
        assert resolver.resolve("shop.acme-market.com").kind == UNKNOWN

        failed = domains.verify_domain(acme.id, domain_id)
        assert failed.status == "pending" and "No TXT record found at _gigforge.shop.acme-market.com" in (
            failed.last_check_error
        )
        db.session.commit()
        assert resolver.resolve("shop.acme-market.com").kind == UNKNOWN

        static_records["_gigforge.shop.acme-market.com"] = ["v=spf1 -all", f"gigforge-verification={token}"]
        verified = domains.verify_domain(acme.id, domain_id)
        assert verified.status == "verified" and verified.verified_at is not None
        assert verified.last_check_error is None and verified.last_checked_at is not None
        db.session.commit()
        domains.invalidate_resolver()
        resolution = resolver.resolve("shop.acme-market.com")
        assert resolution.kind == TENANT and resolution.tenant.slug == "acme"


def test_the_dns_verifier_asks_a_real_dns_server_for_the_txt_record(app, acme, local_dns):
    domain_id, token = add(app, acme, "shop.acme-market.com")
    server = local_dns({"_gigforge.shop.acme-market.com": ["gigforge-verification=wrong"]})
    with app.app_context():
        domain = domains.verify_domain(acme.id, domain_id)
        assert domain.status == "pending"
        assert "does not hold the token (found 'gigforge-verification=wrong')" in domain.last_check_error
        db.session.commit()
    assert server.questions == ["_gigforge.shop.acme-market.com"]

    server.records["_gigforge.shop.acme-market.com"] = [f"gigforge-verification={token}"]
    with app.app_context():
        assert domains.verify_domain(acme.id, domain_id).status == "verified"
        db.session.commit()


def test_dns_lookup_failures_are_explained(app, acme, local_dns):
    domain_id, _token = add(app, acme, "shop.acme-market.com")
    local_dns({})
    with app.app_context():
        assert "No TXT record found" in domains.verify_domain(acme.id, domain_id).last_check_error
        db.session.commit()
    local_dns({}, silent=True)  # a resolver that never answers
    with app.app_context():
        app.config["DOMAIN_DNS_TIMEOUT"] = 0.5
        domain = domains.verify_domain(acme.id, domain_id)
        assert domain.status == "pending" and "timed out" in domain.last_check_error


def test_the_verifier_is_chosen_by_configuration(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", "tenants.domains.StaticTxtVerifier")
        assert isinstance(domains.get_verifier(), domains.StaticTxtVerifier)
        monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", "tenants.domains.DnsTxtVerifier")
        assert isinstance(domains.get_verifier(), domains.DnsTxtVerifier)
        for bad in ("no.such.module.Verifier", "tenants.domains.Missing", "tenants.domains.DomainError"):
            monkeypatch.setitem(app.config, "DOMAIN_VERIFIER", bad)
            with pytest.raises(RuntimeError):
                domains.get_verifier()


def test_a_hostname_belongs_to_one_marketplace_but_a_stale_pending_claim_is_released(app, acme, globex):
    add(app, acme, "shop.acme-market.com")
    with app.app_context():
        with pytest.raises(domains.DomainError) as same:
            domains.add_custom_domain(acme.id, "SHOP.acme-market.com")
        assert same.value.status == 409 and "already one of this marketplace's domains" in same.value.message
        with pytest.raises(domains.DomainError) as other:
            domains.add_custom_domain(globex.id, "shop.acme-market.com")
        assert other.value.status == 409 and "another marketplace" in other.value.message
        assert "acme" not in other.value.message.replace("acme-market", "")  # names nobody
        db.session.rollback()

        # Nobody published the record for a week: another marketplace may claim the name.
        db.session.execute(
            sa.update(TenantDomain)
            .where(TenantDomain.hostname == "shop.acme-market.com")
            .values(created_at=utcnow() - timedelta(days=8))
        )
        db.session.commit()
        claim = domains.add_custom_domain(globex.id, "shop.acme-market.com")
        assert claim.tenant_id == globex.id and claim.status == "pending"
        db.session.commit()
        owners = db.session.scalars(
            sa.select(TenantDomain.tenant_id).where(TenantDomain.hostname == "shop.acme-market.com")
        ).all()
        assert owners == [globex.id]


def test_a_verified_domain_is_never_taken_over(app, acme, globex, static_records):
    domain_id, token = add(app, acme, "shop.acme-market.com")
    static_records["_gigforge.shop.acme-market.com"] = [f"gigforge-verification={token}"]
    with app.app_context():
        domains.verify_domain(acme.id, domain_id)
        db.session.execute(
            sa.update(TenantDomain)
            .where(TenantDomain.id == domain_id)
            .values(created_at=utcnow() - timedelta(days=90))
        )
        db.session.commit()
        with pytest.raises(domains.DomainError) as caught:
            domains.add_custom_domain(globex.id, "shop.acme-market.com")
        assert caught.value.status == 409


def test_custom_domains_per_marketplace_are_limited(app, acme, monkeypatch):
    monkeypatch.setitem(app.config, "DOMAIN_MAX_PER_TENANT", 2)
    add(app, acme, "one.acme-market.com")
    add(app, acme, "two.acme-market.com")
    with app.app_context(), pytest.raises(domains.DomainError) as caught:
        domains.add_custom_domain(acme.id, "three.acme-market.com")
    assert "at most 2 custom domains" in caught.value.message


def test_cli_verifies_pending_domains_of_one_or_every_tenant(app, acme, globex, static_records):
    acme_id, acme_token = add(app, acme, "shop.acme-market.com")
    globex_id, _ = add(app, globex, "shop.globex-market.com")
    static_records["_gigforge.shop.acme-market.com"] = [f"gigforge-verification={acme_token}"]
    runner = app.test_cli_runner()

    result = runner.invoke(args=["tenants", "verify-domains", "--tenant", "globex"])
    assert result.exit_code == 0, result.output
    assert "pending   shop.globex-market.com: No TXT record found" in result.output
    assert "1 pending domain(s) checked, 0 verified" in result.output
    assert row(app, acme_id).status == "pending"

    result = runner.invoke(args=["tenants", "verify-domains"])
    assert result.exit_code == 0, result.output
    assert "verified  shop.acme-market.com" in result.output
    assert "2 pending domain(s) checked, 1 verified" in result.output
    assert row(app, acme_id).status == "verified" and row(app, globex_id).status == "pending"
    with app.app_context():
        assert app.extensions["tenants"].resolve("shop.acme-market.com").tenant.slug == "acme"

    result = runner.invoke(args=["tenants", "verify-domains", "--tenant", "nobody"])
    assert result.exit_code == 1 and "no tenant with slug 'nobody'" in result.output


def test_the_default_hostname_cannot_be_removed_and_takes_over_as_primary(app, acme, static_records):
    domain_id, token = add(app, acme, "shop.acme-market.com")
    static_records["_gigforge.shop.acme-market.com"] = [f"gigforge-verification={token}"]
    with app.app_context():
        with pytest.raises(domains.DomainError) as pending:
            domains.make_primary(acme.id, domain_id)
        assert pending.value.status == 409 and "not verified yet" in pending.value.message
        db.session.rollback()
        domains.verify_domain(acme.id, domain_id)
        domains.make_primary(acme.id, domain_id)
        db.session.commit()
        primary = [d.hostname for d in domains.list_domains(acme.id) if d.is_primary]
        assert primary == ["shop.acme-market.com"]
        default = next(d for d in domains.list_domains(acme.id) if d.hostname == "acme.localhost")
        with pytest.raises(domains.DomainError) as caught:
            domains.remove_domain(acme.id, default.id)
        assert caught.value.status == 409
        db.session.rollback()

        domains.remove_domain(acme.id, domain_id)
        db.session.commit()
        listed = domains.list_domains(acme.id)
        assert [(d.hostname, d.is_primary) for d in listed] == [("acme.localhost", True)]
