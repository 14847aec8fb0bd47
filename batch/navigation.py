"""Navigation serving step: where the readers of each listed article come from, kept in Redis for the site.

    python -m batch.navigation --follow   # as make run runs it: whenever a list changes
    python -m batch.navigation --once     # once, for the lists in Redis now

Whenever the newest trending list (each minute) or anomaly list (each hour) changes, or a new
clickstream month becomes current, each of its articles is looked up in the newest month of its wiki
(stores.navigation: one small S3 read at most) and the list's navigation is written to Redis in
one SET (``navigation:<list>:latest``). A page view then costs the site no S3 read and no lookup, and
the list and its navigation come in one Redis round trip. Plain Python: no Spark.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.exceptions import BotoCoreError, ClientError
from redis.exceptions import RedisError

from core.clickstream import ListNavigation, article_key, encode_list_navigation, wiki_of_project
from core.config import Settings, load_settings
from core.contracts import Keys
from core.snapshots import AnomalySnapshot, TrendingSnapshot, decode_anomalies, decode_trending
from stores.navigation import NavigationStore, NoClickstream

log = logging.getLogger("batch.navigation")
Snapshot = TrendingSnapshot | AnomalySnapshot


def lists(keys: Keys) -> dict[str, tuple[str, Callable[[bytes], Snapshot]]]:
    """The lists whose articles get navigation: name -> (Redis key of the newest, decoder)."""
    return {
        "trending": (keys.trending_latest, decode_trending),
        "anomalies": (keys.anomalies_latest, decode_anomalies),
    }


def list_navigation(store: NavigationStore, snapshot: Snapshot) -> ListNavigation:
    """The navigation of every article of ``snapshot``; articles of wikis without clickstream are left out."""
    articles, months = {}, {}
    for article in snapshot.articles:
        try:
            month, navigation = store.find(article.project, article.title)
        except NoClickstream:
            continue
        months[wiki_of_project(article.project)] = month
        articles[article_key(article.project, article.title)] = navigation
    return ListNavigation(list_computed_at=snapshot.computed_at, months=months, articles=articles)


class Publisher:
    """Writes each list's navigation when the list or the current clickstream months change."""

    def __init__(self, settings: Settings, client, store: NavigationStore) -> None:
        self.client = client
        self.store = store
        self.keys = Keys(settings.redis)
        self.published: dict[str, tuple[int, str]] = {}

    def publish_changed(self) -> int:
        """Write the navigation of every list that changed since the last call; how many were written."""
        written = 0
        months = json.dumps(self.store.months(), sort_keys=True)
        for name, (key, decode) in lists(self.keys).items():
            raw = self.client.get(key)
            if raw is None:
                continue
            snapshot = decode(raw)
            if self.published.get(name) == (snapshot.computed_at, months):
                continue
            started = time.monotonic()
            navigation = list_navigation(self.store, snapshot)
            self.client.set(self.keys.navigation_latest(name), encode_list_navigation(navigation))
            self.published[name] = (snapshot.computed_at, months)
            found = sum(1 for value in navigation.articles.values() if value is not None)
            log.info(
                "%s list of %d article(s): navigation for %d, %d not in their wiki's month, %d without "
                "clickstream (%.2f s)",
                name,
                len(snapshot.articles),
                found,
                len(navigation.articles) - found,
                len(snapshot.articles) - len(navigation.articles),
                time.monotonic() - started,
            )
            written += 1
        return written


def follow(publisher: Publisher, poll_seconds: float) -> None:
    """Publish whenever a list changes, forever; an unreachable Redis or S3 is reported and retried."""
    failing = False
    while True:
        try:
            publisher.publish_changed()
            if failing:
                log.info("Redis and S3 answer again; navigation is being kept current")
            failing = False
        except (RedisError, OSError, BotoCoreError, ClientError) as error:
            if not failing:
                log.warning("cannot read or write the lists (%s); retrying every %.0f s", error, poll_seconds)
            failing = True
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batch.navigation",
        description="Keep, in Redis, where the readers of each article of the newest trending and anomaly "
        "lists come from (from the ingested clickstream, batch/clickstream.py).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--follow", action="store_true", help="run until stopped, publishing as lists change")
    mode.add_argument("--once", action="store_true", help="publish for the lists in Redis now, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from stores.clients import redis_client

    settings = load_settings()
    publisher = Publisher(settings, redis_client(settings), NavigationStore(settings))
    if args.once:
        publisher.publish_changed()
        return 0
    log.info("following the trending and anomaly lists every %.0f s", settings.navigation.poll_seconds)
    follow(publisher, settings.navigation.poll_seconds)  # until stopped (make down sends SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
