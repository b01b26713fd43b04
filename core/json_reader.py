"""Read typed fields out of parsed JSON, failing with the exact path of a bad field.

The payload adapters (Shopify webhooks, supplier messages) all need the same thing:
take ``body: bytes``, parse it with orjson (big integers stay exact), then pull out
fields with precise :class:`~core.errors.PayloadError` messages such as
``line_items[2].quantity: expected an integer, got a string ('2')``.

:class:`JsonObject` wraps one JSON object and its path. ``req_*`` methods require a
non-null value; ``opt_*`` methods return ``None`` (or an empty tuple) for a missing or
null field. Timestamps must carry a UTC offset and are returned converted to UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo

import orjson

from core._jsontype import describe
from core.errors import PayloadError
from core.ids import require_id, shopify_id_from_payload

__all__ = [
    "JsonObject",
    "load_json",
    "load_json_object",
    "parse_local_timestamp",
    "parse_timestamp",
]


def load_json(body: bytes | str, *, what: str) -> object:
    """Parse `body` as JSON with orjson; `what` names the document in errors."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"{what} is not valid JSON: {exc}") from exc


def load_json_object(body: bytes | str, *, what: str) -> JsonObject:
    """Parse `body` and require a top-level JSON object."""
    value = load_json(body, what=what)
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be a JSON object, got {describe(value)}")
    return JsonObject(value, path="")


def parse_timestamp(value: object, *, field: str) -> datetime:
    """Parse an ISO-8601 timestamp with a UTC offset and return it in UTC."""
    if not isinstance(value, str):
        raise PayloadError(
            f"expected an ISO-8601 timestamp, got {describe(value)}", field=field
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(
            f"{value!r} is not an ISO-8601 timestamp", field=field
        ) from exc
    if parsed.tzinfo is None:
        raise PayloadError(
            f"{value!r} has no UTC offset; timestamps must say their zone", field=field
        )
    return parsed.astimezone(UTC)


def parse_local_timestamp(value: object, *, field: str, tz: tzinfo) -> datetime:
    """Parse a supplier timestamp that may lack a zone, and return it in UTC.

    Accepts ``yyyy-MM-dd HH:mm:ss`` (CJ, AliExpress) or ISO-8601. A value without an
    offset is read in `tz` (the supplier account's zone); one with an offset keeps it.
    """
    if not isinstance(value, str):
        raise PayloadError(
            f"expected a date-time string, got {describe(value)}", field=field
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise PayloadError(
            f"{value!r} is not a date-time (expected yyyy-MM-dd HH:mm:ss)", field=field
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


class JsonObject:
    """A JSON object together with its path inside the document."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, object], *, path: str) -> None:
        self.data = data
        self.path = path

    def field(self, key: str) -> str:
        """Return the JSON path of `key` inside this object."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Return whether `key` is present and not null."""
        return self.data.get(key) is not None

    def raw(self, key: str) -> object:
        """Return the raw value of `key` (``None`` when missing)."""
        return self.data.get(key)

    def req(self, key: str) -> object:
        """Return the value of `key`, which must be present and not null."""
        value = self.data.get(key)
        if value is None:
            problem = "is null" if key in self.data else "is missing"
            raise PayloadError(f"{problem} (required)", field=self.field(key))
        return value

    def req_str(self, key: str) -> str:
        value = self.req(key)
        if not isinstance(value, str):
            raise PayloadError(
                f"expected a string, got {describe(value)}", field=self.field(key)
            )
        return value

    def opt_str(self, key: str) -> str | None:
        return self.req_str(key) if self.has(key) else None

    def req_int(self, key: str) -> int:
        value = self.req(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PayloadError(
                f"expected an integer, got {describe(value)}", field=self.field(key)
            )
        return value

    def opt_int(self, key: str) -> int | None:
        return self.req_int(key) if self.has(key) else None

    def req_count(self, key: str) -> int:
        """Return a non-negative integer (quantities)."""
        value = self.req_int(key)
        if value < 0:
            raise PayloadError(
                f"must not be negative, got {value}", field=self.field(key)
            )
        return value

    def req_bool(self, key: str) -> bool:
        value = self.req(key)
        if not isinstance(value, bool):
            raise PayloadError(
                f"expected a boolean, got {describe(value)}", field=self.field(key)
            )
        return value

    def opt_bool(self, key: str, *, default: bool) -> bool:
        return self.req_bool(key) if self.has(key) else default

    def req_timestamp(self, key: str) -> datetime:
        return parse_timestamp(self.req(key), field=self.field(key))

    def opt_timestamp(self, key: str) -> datetime | None:
        return self.req_timestamp(key) if self.has(key) else None

    def req_obj(self, key: str) -> JsonObject:
        value = self.req(key)
        if not isinstance(value, dict):
            raise PayloadError(
                f"expected an object, got {describe(value)}", field=self.field(key)
            )
        return JsonObject(value, path=self.field(key))

    def opt_obj(self, key: str) -> JsonObject | None:
        return self.req_obj(key) if self.has(key) else None

    def req_list(self, key: str) -> list[object]:
        value = self.req(key)
        if not isinstance(value, list):
            raise PayloadError(
                f"expected an array, got {describe(value)}", field=self.field(key)
            )
        return value

    def opt_list(self, key: str) -> list[object]:
        """Return the array at `key`, or an empty list when missing or null."""
        return self.req_list(key) if self.has(key) else []

    def objs(self, key: str, *, required: bool = False) -> tuple[JsonObject, ...]:
        """Return the objects of the array at `key`.

        A missing or null array reads as empty unless `required` is set.
        """
        items = self.req_list(key) if required else self.opt_list(key)
        return tuple(self._items_as_objects(key, items))

    def strs(self, key: str) -> tuple[str, ...]:
        """Return the strings of the array at `key` (empty when missing or null)."""
        result: list[str] = []
        for index, item in enumerate(self.opt_list(key)):
            if not isinstance(item, str):
                raise PayloadError(
                    f"expected a string, got {describe(item)}",
                    field=f"{self.field(key)}[{index}]",
                )
            result.append(item)
        return tuple(result)

    def req_id_text(self, key: str) -> str:
        """Return a supplier identifier sent as a string or an integer, as text.

        Floats are refused (they may already have lost digits); blank strings too.
        """
        value = self.req(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            raise PayloadError(
                f"is the JSON float {value!r}; identifiers must be strings or integers",
                field=self.field(key),
            )
        raise PayloadError(
            f"expected an identifier (string or integer), got {describe(value)}",
            field=self.field(key),
        )

    def opt_id_text(self, key: str) -> str | None:
        """Like :meth:`req_id_text`, but ``None`` when missing, null or blank."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.req_id_text(key)

    def req_local_timestamp(self, key: str, *, tz: tzinfo) -> datetime:
        return parse_local_timestamp(self.req(key), field=self.field(key), tz=tz)

    def opt_local_timestamp(self, key: str, *, tz: tzinfo) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        return self.req_local_timestamp(key, tz=tz)

    def shopify_id(self, resource: str) -> int:
        """Return this object's own id by the rule in :mod:`core.ids`."""
        return shopify_id_from_payload(self.data, resource=resource, path=self.path)

    def req_ref_id(self, key: str) -> int:
        """Return a numeric foreign-key id (``order_id``, ``variant_id``...)."""
        return require_id(self.req(key), field=self.field(key))

    def opt_ref_id(self, key: str) -> int | None:
        return self.req_ref_id(key) if self.has(key) else None

    def _items_as_objects(self, key: str, items: list[object]) -> Iterator[JsonObject]:
        for index, item in enumerate(items):
            path = f"{self.field(key)}[{index}]"
            if not isinstance(item, dict):
                raise PayloadError(
                    f"expected an object, got {describe(item)}", field=path
                )
            yield JsonObject(item, path=path)
