"""Console routes (filled in by its area)."""

from app.console.blueprints import blp, bp  # noqa: F401
