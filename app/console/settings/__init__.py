"""Console area: branding, domains, marketplace settings, categories and the payment provider (admins
only) — ``/console/branding``, ``/domains``, ``/settings``, ``/categories``, ``/payments`` and the API."""
