"""Console area: the dashboard (KPI tiles and charts) at ``/console/`` and ``/api/v1/console/dashboard``."""
