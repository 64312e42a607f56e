"""The one-row read (a tenant's first category as JSON) and the readiness probe."""

from django.http import JsonResponse

from marketplace.models import Categories


def first_category(request):
    row = Categories.objects.order_by("id").values("id", "c01", "c02").first()
    return JsonResponse({"category": row})


def healthz(request):
    return JsonResponse({"status": "ok"})
