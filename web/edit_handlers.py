"""The edit side's handlers: alerts, entities and the watch list as JSON, and the alerts page.

A Redis outage is a 503 with the reason, a bad parameter a 400; changing the
watch list needs the configured token (web/edits.py says how).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.config import Settings
from core.edit_rules import ALERT_TYPES
from web.base import RETRY_AFTER_SECONDS, BaseHandler, JsonHandler, LivePage
from web.edits import AlertQuery, EditReader, authorised, parse_alert_query, parse_entity, parse_variants
from web.snapshots import RedisUnavailable, SnapshotReader
from web.views import BadParameter


class EditApi(JsonHandler):
    """The edit side's endpoints: a Redis outage is a 503 with the reason, a bad parameter a 400."""

    def initialize(self, reader: SnapshotReader, settings: Settings, edits: EditReader) -> None:
        super().initialize(reader, settings)
        self.edits = edits

    async def answer(self, compute: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            self.send_json(200, await compute())
        except ValueError as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.send_json(503, {"error": "data store unavailable", "reason": str(error)})


def alert_query(handler: BaseHandler) -> AlertQuery:
    """The request's alert filters, or BadParameter."""
    max_limit = handler.config.web.max_limit
    return parse_alert_query(lambda name: handler.get_query_argument(name, None), max_limit)


class EditReadApi(EditApi):
    """A GET of the edit side; HEAD answers like it, without the body."""

    async def head(self) -> None:
        await self.get()  # type: ignore[attr-defined]


class AlertsApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            alerts = await self.edits.alerts(alert_query(self))
            return {"count": len(alerts), "alerts": alerts}

        await self.answer(compute)


class EntitiesApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            entities = await self.edits.entities()
            hours = self.config.edits.entity_history_hours
            return {"history_hours": hours, "count": len(entities), "entities": entities}

        await self.answer(compute)


class WatchListApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            watched = await self.edits.watchlist()
            return {"entities": {entity: list(variants) for entity, variants in watched.items()}}

        await self.answer(compute)


class WatchListEntityApi(EditApi):
    """PUT or DELETE one entity, with the configured token."""

    def refused(self) -> bool:
        refusal = authorised(self.config.edits.watchlist_token, self.request.headers.get("Authorization"))
        if refusal is not None:
            status, reason = refusal
            self.send_json(status, {"error": "not allowed", "reason": reason})
        return refusal is not None

    async def put(self, raw_entity: str) -> None:
        if self.refused():
            return

        async def compute() -> dict[str, Any]:
            entity = parse_entity(raw_entity)
            variants = parse_variants(self.request.body)
            existed = await self.edits.change_watchlist(entity, variants)
            return {"entity": entity, "variants": variants, "replaced": existed}

        await self.answer(compute)

    async def delete(self, raw_entity: str) -> None:
        if self.refused():
            return

        async def compute() -> dict[str, Any]:
            entity = parse_entity(raw_entity)
            existed = await self.edits.change_watchlist(entity, None)
            return {"entity": entity, "deleted": existed}

        await self.answer(compute)


class AlertsPage(LivePage):
    """The watch-list alerts, newest first, with the filters of /api/alerts."""

    template = "alerts.html"
    list_template = "alerts_list.html"

    def initialize(self, reader: SnapshotReader, settings: Settings, edits: EditReader) -> None:
        super().initialize(reader, settings)
        self.edits = edits

    def page_name(self) -> str:
        return "alerts"

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-cache")
        values: dict[str, Any] = {"alerts": [], "problem": None, "entities": [], "alert_types": ALERT_TYPES}
        raw = {name: self.get_query_argument(name, "") for name in ("entity", "type", "wiki", "limit")}
        try:
            query = alert_query(self)
        except BadParameter as error:
            self.render_page(400, **values | {"query": None, "raw": raw, "problem": str(error)})
            return
        try:
            values["entities"] = sorted(await self.edits.watchlist())
            values["alerts"] = await self.edits.alerts(query)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            problem = f"The data store is not answering: {error}"
            self.render_page(503, **values | {"query": query, "raw": raw, "problem": problem})
            return
        self.render_page(**values, query=query, raw=raw)

    async def head(self) -> None:
        await self.get()
