"""The head revision is read from the version scripts without Alembic (tenant creation stamps
it and picks spares by it), and always agrees with Alembic's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from tenants.migrations import _linear_head, read_head

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_head(directory: Path) -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(directory))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(directory / "versions"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def script(directory: Path, revision: str, down, *, annotated: bool = False, depends_on=None) -> None:
    (directory / "versions").mkdir(parents=True, exist_ok=True)
    typed = ": str" if annotated else ""
    (directory / "versions" / f"{revision}_step.py").write_text(
        f'"""step {revision}\n\nRevision ID: {revision}\nRevises: {down}\n"""\n\n'
        f"revision{typed} = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
        f"depends_on = {depends_on!r}\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )


@pytest.mark.parametrize("level", ["public", "tenant"])
def test_the_heads_of_our_migrations_are_alembics(level):
    assert _linear_head(MIGRATIONS / level / "versions") is not None  # read without Alembic
    assert read_head(MIGRATIONS / level) == alembic_head(MIGRATIONS / level)


def test_a_straight_line_is_read_without_alembic(tmp_path, monkeypatch):
    script(tmp_path, "a1", None)
    script(tmp_path, "a2", "a1", annotated=True)
    script(tmp_path, "a3", "a2")
    for name in [m for m in sys.modules if m == "alembic" or m.startswith("alembic.")]:
        monkeypatch.setitem(sys.modules, name, None)  # any import of Alembic now fails
    with pytest.raises(ImportError):
        import alembic.script  # noqa: F401
    assert read_head(tmp_path) == "a3"


def test_a_merge_or_a_dependency_is_left_to_alembic(tmp_path):
    script(tmp_path, "a1", None)
    script(tmp_path, "b1", "a1")
    script(tmp_path, "c1", "a1")
    script(tmp_path, "m1", ("b1", "c1"))
    assert _linear_head(tmp_path / "versions") is None
    assert read_head(tmp_path) == alembic_head(tmp_path) == "m1"
    script(tmp_path, "d1", "m1", depends_on="b1")
    assert _linear_head(tmp_path / "versions") is None
    assert read_head(tmp_path) == alembic_head(tmp_path) == "d1"


def test_two_heads_are_refused_as_alembic_refuses_them(tmp_path):
    script(tmp_path, "a1", None)
    script(tmp_path, "b1", "a1")
    script(tmp_path, "c1", "a1")
    with pytest.raises(CommandError, match="multiple heads"):
        read_head(tmp_path)


def test_no_scripts_no_head(tmp_path):
    (tmp_path / "versions").mkdir()
    assert read_head(tmp_path) is None is alembic_head(tmp_path)
