"""What gunicorn serves (``wsgi:app``) and what ``flask --app wsgi ...`` commands run.

``flask --app wsgi tenants ...`` gets the lean app of the tenant commands, which leaves the
web out (``app.create_cli_app``; docs/design/performance.md, "CLI startup"); everything else
gets the whole app. Either is imported and built with the garbage collector off, and what was
built is then frozen: ``app.core.startup.collector_paused`` says why; it is written out here
because it starts before the first import of ``app``.
"""

import gc

gc.disable()
try:
    from app import create_app, create_cli_app
    from app.core.cli_mode import flask_command

    app = create_cli_app() if flask_command() == "tenants" else create_app()
finally:
    gc.freeze()
    gc.enable()
