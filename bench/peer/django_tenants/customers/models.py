"""The public schema: tenants and their host names, as django-tenants documents them."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    created_on = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True  # save() creates the schema and migrates it


class Domain(DomainMixin):
    pass
