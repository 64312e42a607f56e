"""Accounts: sign-up, sign-in, verification, passwords, profiles, seller profiles, API tokens,
account moderation."""
