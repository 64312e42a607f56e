"""Gunicorn settings of the ``realtime`` process (Procfile): Socket.IO on gevent.

``gunicorn -c python:app.core.gunicorn_realtime --worker-class gevent ...``. The web process
holds one OS thread per open websocket (gthread); this one holds a greenlet per socket, so
one process keeps hundreds of chat clients at a few milliseconds each (docs/design/performance.md,
"Chat at 500 clients per process"). The load balancer sends ``/socket.io/`` here and
everything else to ``web``; both run the same app.

The standard library is patched here, in the master, before anything else is imported (the
gevent worker patches again in each worker, which changes nothing), so no module captures an
unpatched lock or socket. Under the patch psycopg 3 waits cooperatively (it detects gevent),
redis-py's sockets are gevent's, and ``app.realtime`` picks the ``gevent`` async mode. RQ
workers are separate processes and are never patched. The metrics hooks are the web's
(``app.core.gunicorn_conf``); give this process a multiprocess directory of its own, since its
master empties the directory it is given when it starts.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from app.core.gunicorn_conf import child_exit, metrics_directory, on_starting  # noqa: E402

__all__ = ["child_exit", "metrics_directory", "on_starting"]
