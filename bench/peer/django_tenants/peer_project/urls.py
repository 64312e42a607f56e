"""A tenant host's routes: the one-row read and the probe."""

from django.urls import path
from marketplace.views import first_category, healthz

urlpatterns = [
    path("healthz", healthz),
    path("api/v1/category", first_category),
]
