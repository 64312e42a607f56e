"""Hourly contracts: time entries, weekly timesheets, approval and billing (issue #17).

See docs/design/hourly-and-workroom.md.
"""
