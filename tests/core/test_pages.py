"""Host resolution through HTTP: each tenant sees its own branded site."""


def test_tenant_home_shows_its_own_branding(tenant_client):
    acme = tenant_client("acme").get("/")
    globex = tenant_client("globex").get("/")
    assert acme.status_code == 200 and globex.status_code == 200
    assert b"Acme Test Market" in acme.data and b"Globex Test Market" not in acme.data
    assert b"Globex Test Market" in globex.data and b"Acme Test Market" not in globex.data
    assert b"--brand-primary: #0f766e" in acme.data
    assert b"--brand-primary: #6d28d9" in globex.data


def test_platform_host_serves_platform_home(platform_client):
    response = platform_client.get("/")
    assert response.status_code == 200
    assert b"One engine, many branded freelance marketplaces" in response.data


def test_unknown_host_is_a_bare_404(tenant_client):
    response = tenant_client("nobody").get("/")
    assert response.status_code == 404
    assert b"Gigforge" not in response.data and b"Acme" not in response.data


def test_malformed_host_is_404(app):
    client = app.test_client()
    for host in ("bad_host!", "a..b", "-x.localhost", "x" * 300, "acme.localhost:port", "", "[::1"):
        response = client.get("/", environ_overrides={"HTTP_HOST": host})
        assert response.status_code == 404, host


def test_healthz_and_readyz_answer_on_any_host(tenant_client):
    assert tenant_client("nobody").get("/healthz").json == {"status": "ok"}
    ready = tenant_client("acme").get("/readyz")
    assert ready.status_code == 200  # no worker runs here: "degraded", still ready
    assert ready.json["checks"]["database"]["status"] == "ok"
    assert ready.json["checks"]["redis"]["status"] == "ok"


def test_request_id_is_echoed_or_generated(tenant_client):
    client = tenant_client("acme")
    assert client.get("/", headers={"X-Request-ID": "abc123"}).headers["X-Request-ID"] == "abc123"
    assert len(client.get("/").headers["X-Request-ID"]) == 32
