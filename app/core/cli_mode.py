"""Which ``flask`` command this process runs, read before the app is built.

``wsgi.py`` builds the lean app of ``flask tenants ...`` (``app.create_cli_app``) when
``flask_command()`` is ``"tenants"``, and the whole app otherwise. The app is imported while
Flask's command line looks the command up, before the command's own context exists, so the
name is read from the process's arguments, as the ``flask`` program parses them. Anything
else (gunicorn importing ``wsgi``, a worker or test building the app from code, ``flask``
driven with other arguments than the process's) is None: the whole app, as before.
"""

from __future__ import annotations

import os
import sys

# FlaskGroup's own options that take a value (flask.cli: --env-file, --app); the others
# (--debug/--no-debug, --version, --help) take none.
_OPTIONS_WITH_VALUE = frozenset({"-e", "--env-file", "-A", "--app"})


def flask_command(argv: list[str] | None = None) -> str | None:
    """The command (``tenants`` in ``flask --app wsgi tenants create acme``) that the ``flask``
    program running this process was given; None when this process is not that program loading
    its app (no Flask command-line context, or ``sys.argv`` is not the ``flask`` program's)."""
    import click
    from flask.cli import FlaskGroup

    ctx = click.get_current_context(silent=True)
    if ctx is None or not isinstance(ctx.find_root().command, FlaskGroup):
        return None
    argv = sys.argv if argv is None else argv
    if not argv or not _is_flask_program(argv[0]):
        return None
    return first_command(argv[1:])


def _is_flask_program(program: str) -> bool:
    """``.venv/bin/flask``, or ``python -m flask`` (whose argv[0] is flask/__main__.py)."""
    return os.path.basename(program) == "flask" or program.endswith(os.path.join("flask", "__main__.py"))


def first_command(args: list[str]) -> str | None:
    """The first argument that is neither one of ``flask``'s options nor an option's value."""
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            return next(rest, None)
        if arg in _OPTIONS_WITH_VALUE:
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return None
