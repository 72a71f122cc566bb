"""The REST API at /api/v1/ (django-ninja, OpenAPI at /api/v1/docs)."""

from ninja import NinjaAPI

api = NinjaAPI(title="siyu API", version="1", urls_namespace="api")
