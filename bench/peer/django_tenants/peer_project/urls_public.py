"""Routes of a host with no tenant: the probe only."""

from django.urls import path
from marketplace.views import healthz

urlpatterns = [path("healthz", healthz)]
