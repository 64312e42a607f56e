"""Console area: orders (search, detail, cancel and refund), the audit log and CSV exports —
``/console/orders``, ``/console/audit-log``, ``/console/exports`` and the same under ``/api/v1/console``."""
