"""Disputes and the resolution centre (issue #16): see app/disputes/services.py."""
