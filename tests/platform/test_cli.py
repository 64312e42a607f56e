"""``flask platform ...``: platform admins from the command line; bad input exits 1 and changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.platform.models import PlatformAdmin
from tenants.db import db

from .conftest import platform_login


@pytest.fixture
def flask_cli(app):
    """``flask_cli("platform", "list-admins", input=...)`` -> click Result."""
    runner = app.test_cli_runner()  # result.output holds stdout and stderr (click 8.2+)

    def invoke(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def admins(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            sa.select(PlatformAdmin.email, PlatformAdmin.display_name, PlatformAdmin.status).order_by(
                PlatformAdmin.id
            )
        ).all()


def test_create_admin_from_stdin_then_log_in(flask_cli, app, platform_client):
    result = flask_cli(
        "platform",
        "create-admin",
        "--email",
        "Root@Gigforge.test",
        "--name",
        "Rita Root",
        "--password-stdin",
        input="lantern-harbor-violet-3\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created platform admin Root@Gigforge.test" in result.output
    assert admins(app) == [("Root@Gigforge.test", "Rita Root", "active")]
    with app.app_context():
        stored = db.session.scalar(sa.select(PlatformAdmin.password_hash))
    assert stored.startswith("$argon2id$") and "lantern" not in stored
    assert platform_login(platform_client, "root@gigforge.test", "lantern-harbor-violet-3").status_code == 302


def test_create_admin_prompts_for_the_password_twice(flask_cli, app):
    result = flask_cli(
        "platform",
        "create-admin",
        "--email",
        "ops@gigforge.test",
        "--name",
        "Ops",
        input="lantern-harbor-violet-3\nlantern-harbor-violet-3\n",
    )
    assert result.exit_code == 0, result.output
    assert [a[0] for a in admins(app)] == ["ops@gigforge.test"]


@pytest.mark.parametrize(
    "email, name, password, message",
    [
        ("not-an-email", "Ops", "lantern-harbor-violet-3", "email: Enter a valid email address"),
        ("ops@gigforge.test", "   ", "lantern-harbor-violet-3", "display_name: Enter a name."),
        ("ops@gigforge.test", "Ops", "short", "password: Use at least 10 characters."),
        ("ops@gigforge.test", "Ops", "password123", "password: This password is too common"),
        ("ops@gigforge.test", "Ops", "", "password: Use at least 10 characters."),
    ],
)
def test_create_admin_refuses_bad_input(flask_cli, app, email, name, password, message):
    result = flask_cli(
        "platform",
        "create-admin",
        "--email",
        email,
        "--name",
        name,
        "--password-stdin",
        input=password + "\n",
    )
    assert result.exit_code == 1
    assert message in result.output
    assert admins(app) == []


def test_create_admin_refuses_a_taken_email_in_any_case(flask_cli, app, make_platform_admin):
    make_platform_admin("ops@gigforge.test")
    result = flask_cli(
        "platform",
        "create-admin",
        "--email",
        "OPS@gigforge.test",
        "--name",
        "Twin",
        "--password-stdin",
        input="lantern-harbor-violet-3\n",
    )
    assert result.exit_code == 1
    assert "A platform admin with this email already exists." in result.output
    assert [a[0] for a in admins(app)] == ["ops@gigforge.test"]


def test_list_admins(flask_cli, make_platform_admin, platform_client):
    make_platform_admin("ops@gigforge.test", name="Olga Ops")
    make_platform_admin("sre@gigforge.test", name="Sam Sre")
    platform_login(platform_client, "ops@gigforge.test")
    result = flask_cli("platform", "list-admins")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    ops = next(line for line in lines if "ops@gigforge.test" in line)
    sre = next(line for line in lines if "sre@gigforge.test" in line)
    assert "active" in ops and "Olga Ops" in ops and "never" not in ops
    assert "never" in sre
    assert "2 platform admin(s)" in result.output


def test_set_password_and_disable_enable(flask_cli, app, make_platform_admin, platform_client):
    make_platform_admin("ops@gigforge.test")
    result = flask_cli(
        "platform", "set-password", "--email", "ops@gigforge.test", "--password-stdin", input="weak\n"
    )
    assert result.exit_code == 1
    result = flask_cli(
        "platform",
        "set-password",
        "--email",
        "ops@gigforge.test",
        "--password-stdin",
        input="another-lantern-44\n",
    )
    assert result.exit_code == 0, result.output
    assert platform_login(platform_client, "ops@gigforge.test", "another-lantern-44").status_code == 302

    assert flask_cli("platform", "disable-admin", "--email", "ops@gigforge.test").exit_code == 0
    assert platform_client.get("/platform/").status_code == 302  # the open session ended
    again = flask_cli("platform", "disable-admin", "--email", "ops@gigforge.test")
    assert again.exit_code == 1 and "already disabled" in again.output
    assert flask_cli("platform", "enable-admin", "--email", "ops@gigforge.test").exit_code == 0
    assert admins(app)[0][2] == "active"
    unknown = flask_cli("platform", "disable-admin", "--email", "nobody@gigforge.test")
    assert unknown.exit_code == 1 and "No platform admin" in unknown.output
