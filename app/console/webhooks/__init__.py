"""The console's "Webhooks" pages and API: the marketplace's endpoints (create, edit, enable,
disable, delete, roll and reveal the secret, test ping), an endpoint's 24-hour chart and its
delivery log with replay. ``actions.py`` calls app/webhooks/services.py and audits. Admins only."""
