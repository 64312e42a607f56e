"""What gunicorn serves (``wsgi:app``) and what ``flask --app wsgi ...`` commands run.

``flask --app wsgi tenants ...`` gets the lean app of the tenant commands, which leaves the
web out (``app.create_cli_app``; docs/design/performance.md, "CLI startup"); everything else
gets the whole app.
"""

from app import create_app, create_cli_app
from app.core.cli_mode import flask_command

app = create_cli_app() if flask_command() == "tenants" else create_app()
