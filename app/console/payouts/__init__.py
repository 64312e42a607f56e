"""The console's payouts area: payouts (filters, retry of a failed one), sellers' payout
accounts (KYC status and requirements; the sandbox's simulated verification), and holds on a
seller's payouts. Admins only: it is money and identity data."""
