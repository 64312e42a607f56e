"""Double-entry ledger: every movement of money is a balanced transaction.

See docs/design/orders-and-money.md ("Ledger").
"""
