"""Payments: the provider interface (sandbox, Stripe Connect), checkout, webhooks,
refunds through the provider, payouts and earnings clearance.

Money moves in the ledger (``app.ledger.services``); this package moves it at
the payment provider and keeps the provider's objects (payments, refunds,
payouts, connected accounts, processed webhooks) in step with the ledger.
"""
