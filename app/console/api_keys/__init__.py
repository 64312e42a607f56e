"""The console's "API keys" page and API (partner keys: list, create with the secret shown once,
revoke, a key's recent calls). ``actions.py`` calls app/accounts/api_keys.py and audits. Admins only."""
