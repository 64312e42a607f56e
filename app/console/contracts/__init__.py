"""The console's contracts area: every contract (filters, search, money) and a contract's page
with its SoW, milestones, changes, the engagement's timeline and ledger, and the operator's
end; the milestones of every contract's engagement (by state, auto-release due).

``reads.py`` reads, ``actions.py`` calls the contracts domain (app/contracts/services.py)
and writes the audit entry; ``views.py`` and ``api.py`` call them.
"""
