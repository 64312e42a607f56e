"""Outbound webhooks (docs/design/partners.md, docs/api.md "Webhooks"): operators register
endpoints, every partner-visible outbox event is rendered once and delivered to each endpoint
that asked for its type, signed, retried with back-off, logged, replayable."""
