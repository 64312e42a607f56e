"""The console's jobs area: every job (filters, search) and a job's page with its proposals and
invites and the close action; the job templates clients post from (add, edit, hide, reorder);
the matching weights.

``reads.py`` reads, ``actions.py`` calls the jobs domain (app/jobs/services.py,
app/jobs/settings.py) and writes the audit entry; ``views.py`` and ``api.py`` call them.
"""
