"""Signals the tenancy engine sends. The marketplace subscribes; the engine never imports it.

- ``tenant_seed(session, tenant=TenantRef, options=dict)``: sent inside the
  provisioning transaction, with the tenant bound and ``session`` joined to
  that transaction. Receivers create the tenant's defaults (settings, starter
  categories, first admin). An exception aborts the whole creation.
- ``tenant_created(tenant=TenantRef)``: after the creation committed.
- ``tenant_status_changed(tenant=TenantRef)``: after suspend or resume committed.
- ``tenant_dropped(tenant=TenantRef)``: after the schema and rows are gone;
  receivers delete files, search indexes and cache keys of the tenant.
"""

from blinker import Namespace

_signals = Namespace()

tenant_seed = _signals.signal("tenant-seed")
tenant_created = _signals.signal("tenant-created")
tenant_status_changed = _signals.signal("tenant-status-changed")
tenant_dropped = _signals.signal("tenant-dropped")
