"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models
from psycopg.types.json import Json, Jsonb


class OrderedJSONField(models.JSONField):  # type: ignore[type-arg]
    """JSON kept in the order it came. PostgreSQL's ``jsonb`` sorts object keys,
    which would change what users see (the event they sent, their mapping, the
    request Ferry made) and which metadata keys count as "the first ten". On
    PostgreSQL this column is ``json`` (stored as written); elsewhere it is an
    ordinary JSONField. Not meant for queries into the document."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        adapted = super().get_db_prep_value(value, connection, prepared)
        if isinstance(adapted, Jsonb):
            return Json(adapted.obj, dumps=adapted.dumps)
        return adapted

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg decodes json columns itself (Django only asks for jsonb as text).
        if value is not None and not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
