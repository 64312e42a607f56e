"""Marketplace settings: branding, currency, commission and delays, behind one cached accessor."""
