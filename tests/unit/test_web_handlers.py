"""The site's handlers over HTTP, without Redis: tornado.testing against a stand-in for the Redis client.

What a client of the site checks: status codes, the reason of a 400 or 503, the
security and cache headers, a 304 for an unchanged body, the page's text. The
same handlers against the real Redis, and in a browser: tests/integration.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tornado.testing import AsyncHTTPTestCase

from core.config import load_settings
from core.contracts import Keys
from core.snapshots import TrendingArticle, TrendingSnapshot, encode
from tests.api_contract import check_answer, operation_path, spec
from web.app import make_app
from web.snapshots import SnapshotReader

MINUTE = 1_772_438_400_000  # 2026-03-02T08:00:00Z
SNAPSHOT = TrendingSnapshot(
    minute=MINUTE,
    computed_at=MINUTE + 38_000,
    min_volume=20,
    articles=[
        TrendingArticle(
            rank=1,
            project="en.wikipedia",
            title='Tōkyō_"Tower"_<script>',
            counts=[20, 21, 22, 60, 90, 120],
            window_ends=[MINUTE - k * 600_000 for k in range(5, -1, -1)],
            score=12.5,
            expected=[21.0] * 6,
            growth=4.0,
            z=12.5,
        )
    ],
    rule="rise",
    min_z=5.0,
    min_growth=1.3,
    candidates=40,
)


class StandInRedis:
    """What the site asks of its asyncio Redis client, answered from a dict (or refused: ``down``)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.down = False

    def _answer(self):
        if self.down:
            raise ConnectionError("connection refused")

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        self._answer()
        return [self.values[k].encode() if k in self.values else None for k in keys]

    async def ping(self) -> bool:
        self._answer()
        return True

    def register_script(self, script: str):
        return script

    def pipeline(self, transaction: bool = False) -> StandInPipeline:
        return StandInPipeline(self)


class StandInPipeline:
    """The edit context's one round trip: no edit job has published anything (its clock is unset)."""

    def __init__(self, redis: StandInRedis) -> None:
        self.redis, self.calls = redis, 0

    def __getattr__(self, name: str):
        def queued(*args, **kwargs) -> None:
            self.calls += 1

        return queued

    async def execute(self) -> list:
        self.redis._answer()
        return [None, [None]] + [[] for _ in range(self.calls - 2)]


class SiteHandlers(AsyncHTTPTestCase):
    def get_app(self):
        self.settings = load_settings({})
        self.redis = StandInRedis({Keys(self.settings.redis).trending_latest: encode(SNAPSHOT)})
        # A cache of 0 s: every request reads the stand-in, so an outage shows at once.
        reader = SnapshotReader(self.redis, self.settings.redis, cache_seconds=0)
        return make_app(self.settings, reader, navigation_store=object())

    def fetch(self, path: str, **kwargs):
        """Every JSON answer is also checked against docs/openapi.yaml."""
        response = super().fetch(path, **kwargs)
        if response.body and response.headers.get("Content-Type", "").startswith("application/json"):
            check_answer(kwargs.get("method", "GET"), path, response.code, json.loads(response.body))
        return response

    def test_the_trending_api_answers_with_the_list_and_its_numbers(self) -> None:
        response = self.fetch("/api/trending?limit=3")
        assert response.code == 200
        assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        document = json.loads(response.body)
        assert document["count"] == 1 and document["rule"] == "rise"
        item = document["articles"][0]
        assert item["title"] == 'Tōkyō_"Tower"_<script>' and item["counts"] == [20, 21, 22, 60, 90, 120]
        assert item["z"] == 12.5 and item["growth"] == 4.0

    def test_an_unchanged_body_is_a_304(self) -> None:
        first = self.fetch("/api/trending")
        again = self.fetch("/api/trending", headers={"If-None-Match": first.headers["Etag"]})
        assert again.code == 304 and again.body == b""

    def test_a_bad_parameter_is_a_400_with_its_reason(self) -> None:
        response = self.fetch("/api/trending?limit=abc")
        document = json.loads(response.body)
        assert response.code == 400 and document["error"] == "bad parameter"
        assert "limit must be" in document["reason"]
        page = self.fetch("/?project=evil.com")
        assert page.code == 400 and b"unknown project" in page.body

    def test_redis_down_is_a_503_with_the_reason_and_recovers_when_it_returns(self) -> None:
        self.redis.down = True
        response = self.fetch("/api/trending")
        assert response.code == 503 and response.headers["Retry-After"] == "5"
        assert "not answering" in json.loads(response.body)["reason"]
        assert self.fetch("/healthz").code == 503
        assert self.fetch("/").code == 503
        self.redis.down = False
        assert self.fetch("/api/trending").code == 200
        assert json.loads(self.fetch("/healthz").body) == {"status": "ok", "redis": "up"}

    def test_the_page_shows_the_article_escaped_with_the_security_headers(self) -> None:
        response = self.fetch("/")
        assert response.code == 200
        body = response.body.decode()
        assert "Tōkyō &quot;Tower&quot; &lt;script&gt;" in body and "<script>" not in body.split("</head>")[1]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert self.fetch("/", method="HEAD").code == 200

    def test_each_item_says_what_changed_since_the_earlier_lists(self) -> None:
        """Read from the minute lists the job keeps: third an hour ago, listed the last five minutes
        (the minute before those has no list: a restart), so "at least" six."""
        keys = Keys(self.settings.redis)
        earlier = replace(SNAPSHOT, articles=[replace(SNAPSHOT.articles[0], rank=3)])
        for minutes_before in (*range(1, 6), 60):
            self.redis.values[keys.trending_minute(MINUTE - minutes_before * 60_000)] = encode(earlier)
        item = json.loads(self.fetch("/api/trending").body)["articles"][0]
        assert (item["rank_an_hour_ago"], item["new"]) == (3, False)
        assert (item["listed_minutes"], item["listed_at_least"]) == (6, True)
        page = self.fetch("/").body.decode()
        assert "up from 3" in page and "listed for at least 6 min" in page
        # Not on the list of an hour before: new. (What changed is read once per list: the job's next
        # write of it, here a re-run, reads the earlier lists again.)
        self.redis.values[keys.trending_minute(MINUTE - 3_600_000)] = encode(replace(SNAPSHOT, articles=[]))
        rewritten = replace(SNAPSHOT, computed_at=SNAPSHOT.computed_at + 1)
        self.redis.values[keys.trending_latest] = encode(rewritten)
        item = json.loads(self.fetch("/api/trending").body)["articles"][0]
        assert (item["rank_an_hour_ago"], item["new"]) == (None, True)

    def test_no_list_yet_and_unknown_paths(self) -> None:
        self.redis.values.clear()
        document = json.loads(self.fetch("/api/trending").body)
        assert document["count"] == 0 and document["message"] == "no data yet"
        missing = self.fetch("/no/such/page")
        assert missing.code == 404 and missing.headers["X-Content-Type-Options"] == "nosniff"


def test_every_api_route_is_in_the_openapi_document() -> None:
    settings = load_settings({})
    reader = SnapshotReader(StandInRedis({}), settings.redis, cache_seconds=0)
    app = make_app(settings, reader, navigation_store=object())
    routes = [rule.matcher.regex.pattern.rstrip("$") for rule in app.wildcard_router.rules]
    api = [route for route in routes if route.startswith(("/api/", "/healthz"))]
    assert len(api) == 9
    samples = {"([^/]+)": "en.wikipedia", "(.+)": "AC/DC"}
    for route in api:
        for group, sample in samples.items():
            route = route.replace(group, sample)
        assert operation_path(route) in spec()["paths"]


def test_an_answer_the_document_does_not_describe_fails_the_check() -> None:
    with pytest.raises(AssertionError, match="count"):
        check_answer("GET", "/api/trending?limit=2", 200, {"count": "one", "articles": []})
    with pytest.raises(AssertionError, match="has no 418"):
        check_answer("GET", "/api/trending", 418, {})
    with pytest.raises(AssertionError, match="reason"):
        check_answer("GET", "/api/alerts", 400, {"error": "bad parameter"})
