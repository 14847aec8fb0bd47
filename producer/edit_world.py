"""A seeded synthetic edit stream with ground truth: the edit side's counterpart of producer/world.py.

Events are Wikimedia ``recentchange`` JSON (the shape of the real sample in
../shared/data/real), on the same catalogue as the page-request world:

- a quiet background: edits of popular articles by a pool of people at random
  times, and by flagged bots on timers (each its own period and comment; some
  in runs of quick edits, some outside the article namespace, as real bots
  work); small size changes,
  never a revert and never a watched title, so it sets off no alert;
- every ``period`` (two hours by default), injected edits that must each set off
  exactly one alert: a large addition and a large removal on two watched
  entities (LARGE_EDIT), a burst of four edits on a third within 45 s
  (RAPID_EDIT), a flagged bot's edit on a fourth (BOT_EDIT), and an edit war
  of three reverts by two accounts on an unwatched article (EDIT_WAR);
- a burst of regular, identical edits from an unflagged account (a bot the
  detector should find; no alert type is set off by it);
- an edit surge on the injected trending article, if there is one, so that the
  trending page shows its edits.

``expected_alerts`` is the ground truth: (type, entity, title, revision) of
every alert the rules must raise, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from core.edit_events import normalise_title
from core.edit_rules import BOT_EDIT, EDIT_WAR, LARGE_EDIT, RAPID_EDIT
from core.windows import HOUR_MS, MINUTE_MS
from producer.world import Catalogue

SECOND_MS = 1000
BACKGROUND_USERS = 5_000
BACKGROUND_BOTS = 20  # flagged bot accounts among the background editors
BOT_PERIOD_SECONDS = (45, 600)  # each background bot edits every p seconds, p drawn from this range
BOT_JITTER_MS = 2_000
BOT_COMMENTS = (
    "Bot: fixing links",
    "Rescuing 1 sources and tagging 0 as dead.",
    "Bot: dating maintenance tags",
)
# Namespaces bots also work in: talk (1), project (4), template (10), category (14).
BOT_NAMESPACES = {1: "Talk:", 4: "Wikipedia:", 10: "Template:", 14: "Category:"}
BOT_NON_ARTICLE_SHARE = 0.3  # of one bot in three; the others work on articles only
BOT_RUN_EDITS = 8  # the edits of a batch bot's run
BOT_SKIP_ONE_IN = 20
# People edit talk pages too.
PEOPLE_TALK_SHARE = 0.1
BACKGROUND_COMMENTS = ("copyedit", "/* History */ expanded", "added citation", "fixed typo", "update", "")
WAR_USERS = ("Synthetic_Warrior_A", "Synthetic_Warrior_B")
UNFLAGGED_BOT = "Synthetic_Autoeditor"
UNFLAGGED_BOT_EDITS = 40
# Injected revision ids start here (background ones count up from 1), so a test can tell them apart.
INJECTED_REVISION_BASE = 9_000_000_000


@dataclass(frozen=True)
class ExpectedAlert:
    alert_type: str
    entity: str | None
    title: str
    revision_id: int


@dataclass
class EditWorld:
    """The synthetic edit stream of ``minutes`` from ``start_ms`` (seeded: same arguments, same events)."""

    catalogue: Catalogue
    seed: int
    start_ms: int
    minutes: int
    edits_per_minute: float
    watchlist: dict[str, tuple[str, ...]]
    injected_after_ms: int = 5 * MINUTE_MS
    # Two hours: an hour apart, one edit war's reverts would fall in the last one's window (EDIT_WAR).
    period_ms: int = 2 * HOUR_MS
    trend: tuple[str, int, int] | None = None  # (title, start ms, duration ms) of the page-view trend
    expected_alerts: list[ExpectedAlert] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.watchlist) < 4:
            raise ValueError("the synthetic edit stream needs a watch list of at least 4 entities")
        self._watched = {normalise_title(v) for name, vs in self.watchlist.items() for v in (name, *vs)}

    def events(self) -> Iterator[dict]:
        """Every event in event-time order (within a minute), minute after minute; fills expected_alerts."""
        self.expected_alerts, self._revision = [], 0
        rng = np.random.default_rng(self.seed)
        end_ms = self.start_ms + self.minutes * MINUTE_MS
        injected = sorted(self._injected(end_ms), key=lambda event: event["timestamp_ms"])
        position = 0
        for minute in range(self.minutes):
            minute_ms = self.start_ms + minute * MINUTE_MS
            batch = list(self._background(rng, minute_ms))
            while position < len(injected) and injected[position]["timestamp_ms"] < minute_ms + MINUTE_MS:
                batch.append(injected[position])
                position += 1
            batch.sort(key=lambda event: event["timestamp_ms"])
            for event in batch:
                yield recentchange(**event)

    def _background(self, rng: np.random.Generator, minute_ms: int) -> Iterator[dict]:
        yield from self._people(rng, minute_ms)
        yield from self._bots(rng, minute_ms)

    def _people(self, rng: np.random.Generator, minute_ms: int) -> Iterator[dict]:
        count = int(rng.poisson(self.edits_per_minute))
        ranks = self.catalogue.sample_ranks(rng, count)
        offsets = np.sort(rng.integers(0, MINUTE_MS, count))
        users = rng.integers(0, BACKGROUND_USERS, count)
        sizes = np.clip(rng.normal(0, 150, count).astype(int), -450, 450)
        comments = rng.integers(0, len(BACKGROUND_COMMENTS), count)
        talks = rng.random(count) < PEOPLE_TALK_SHARE
        for rank, offset, user, size, comment, talk in zip(
            ranks, offsets, users, sizes, comments, talks, strict=True
        ):
            title = self.catalogue.title(int(rank))
            if title in self._watched:
                continue
            yield self._background_edit(
                ("Talk:" if talk else "") + title,
                f"Editor_{user}",
                False,
                minute_ms + int(offset),
                int(size),
                BACKGROUND_COMMENTS[comment],
                1 if talk else 0,
            )

    def _bots(self, rng: np.random.Generator, minute_ms: int) -> Iterator[dict]:
        """The flagged bots' edits of the minute. Bot b works in slots phase_b + k·period_b: one edit per
        slot, or for one bot in three a run of BOT_RUN_EDITS edits a few seconds apart (a batch job);
        one slot in BOT_SKIP_ONE_IN is skipped (the bot was stopped), and every edit is a little late
        or early."""
        for bot in range(BACKGROUND_BOTS):
            period_ms = 1000 * (BOT_PERIOD_SECONDS[0] + (bot * 7_919 + self.seed) % BOT_PERIOD_SECONDS[1])
            phase_ms = (bot * 104_729 + self.seed) % period_ms
            run, gap_ms = (BOT_RUN_EDITS, 1000 * (4 + bot % 5)) if bot % 3 == 2 else (1, 0)
            first = -(-(minute_ms - self.start_ms - phase_ms - run * gap_ms) // period_ms)
            slot = max(first, 0)
            while (slot_ms := self.start_ms + phase_ms + slot * period_ms) < minute_ms + MINUTE_MS:
                skipped = (slot * 2_654_435_761 + bot) % BOT_SKIP_ONE_IN == 0
                for k in range(0 if skipped else run):
                    jitter = int(rng.integers(-BOT_JITTER_MS, BOT_JITTER_MS + 1)) if run == 1 else 0
                    at_ms = slot_ms + k * gap_ms + jitter
                    if not minute_ms <= at_ms < minute_ms + MINUTE_MS:
                        continue
                    title = self.catalogue.title(int(self.catalogue.sample_ranks(rng, 1)[0]))
                    namespace = 0
                    if bot % 3 == 1 and rng.random() < BOT_NON_ARTICLE_SHARE:
                        namespace = list(BOT_NAMESPACES)[int(rng.integers(0, len(BOT_NAMESPACES)))]
                        title = BOT_NAMESPACES[namespace] + title
                    if title not in self._watched:
                        yield self._background_edit(
                            title,
                            bot_account(bot),
                            True,
                            at_ms,
                            int(rng.integers(-30, 31)),
                            BOT_COMMENTS[bot % len(BOT_COMMENTS)],
                            namespace,
                        )
                slot += 1

    def _background_edit(
        self, title: str, user: str, bot: bool, at_ms: int, size: int, comment: str, namespace: int = 0
    ) -> dict:
        self._revision += 1
        return {
            "title": title,
            "user": user,
            "bot": bot,
            "timestamp_ms": at_ms,
            "size_change": size,
            "comment": comment,
            "revision_id": self._revision,
            "namespace": namespace,
        }

    def _injected(self, end_ms: int) -> Iterator[dict]:
        revision = INJECTED_REVISION_BASE
        entities = list(self.watchlist.items())[:4]
        (large_up, up_variants), (large_down, down_variants) = entities[0], entities[1]
        (rapid, rapid_variants), (botted, bot_variants) = entities[2], entities[3]
        war_title = self.catalogue.title(777)
        period_start, period = self.start_ms + self.injected_after_ms, 0
        while period_start < end_ms:
            # People, not timers: each period's injected edits come from accounts of their own.
            large, blank, fans = f"Editor_Large_{period}", f"Editor_Blank_{period}", f"Fan_{period}_"
            a, b = (f"{name}_{period}" for name in WAR_USERS)

            def edit(
                offset_ms: int,
                title: str,
                user: str,
                size: int,
                comment: str = "",
                bot: bool = False,
                start_ms: int = period_start,
            ):
                nonlocal revision
                revision += 1
                return {
                    "title": title,
                    "user": user,
                    "bot": bot,
                    "timestamp_ms": start_ms + offset_ms,
                    "size_change": size,
                    "comment": comment,
                    "revision_id": revision,
                }

            def expect(alert_type: str, entity: str | None, event: dict) -> dict:
                if event["timestamp_ms"] < end_ms:
                    self.expected_alerts.append(
                        ExpectedAlert(
                            alert_type, entity, normalise_title(event["title"]), event["revision_id"]
                        )
                    )
                return event

            variant = _variant(up_variants, large_up)
            yield expect(LARGE_EDIT, large_up, edit(0, variant, large, 1_234, "added a section"))
            variant = _variant(down_variants, large_down)
            yield expect(LARGE_EDIT, large_down, edit(2 * MINUTE_MS, variant, blank, -2_000, ""))
            # Four quick edits, a variant with spaces and the canonical title: RAPID_EDIT on the third.
            burst = [_variant(rapid_variants, rapid).replace("_", " "), rapid, rapid, rapid]
            for k, (title, user) in enumerate(
                zip(burst, (fans + "1", fans + "2", fans + "1", fans + "3"), strict=True)
            ):
                event = edit(4 * MINUTE_MS + k * 15 * SECOND_MS, title, user, 40 + k, "tweak")
                yield expect(RAPID_EDIT, rapid, event) if k == 2 else event
            event = edit(
                6 * MINUTE_MS, _variant(bot_variants, botted), "InternetArchiveBot", 120, "Rescuing sources"
            )
            yield expect(BOT_EDIT, botted, {**event, "bot": True})
            # The edit war: A adds, B undoes, A reverts B, B reverts A: three reverts by two accounts.
            yield edit(8 * MINUTE_MS, war_title, a, 300, "my version")
            yield edit(10 * MINUTE_MS, war_title, b, -300, f"Undid revision {revision} by {a}")
            yield edit(
                13 * MINUTE_MS, war_title, a, 300, f"Reverted edits by {b} (talk) to last version by {a}"
            )
            yield expect(
                EDIT_WAR, None, edit(17 * MINUTE_MS, war_title, b, -300, f"Undid revision {revision} by {a}")
            )
            # An unflagged account editing like a bot: every 6 s, the same comment, many articles.
            for k in range(UNFLAGGED_BOT_EDITS):
                yield edit(
                    20 * MINUTE_MS + k * 6 * SECOND_MS,
                    self.catalogue.title(5_000 + 13 * k),
                    UNFLAGGED_BOT,
                    12,
                    "Fixing links",
                )
            period_start += self.period_ms
            period += 1
        if self.trend is not None:
            title, start_ms, duration_ms = self.trend
            # An edit every two minutes through the trend, by different accounts.
            for k, at_ms in enumerate(range(start_ms, min(start_ms + duration_ms, end_ms), 2 * MINUTE_MS)):
                revision += 1
                yield {
                    "title": title,
                    "user": f"Reader_{k % 7}",
                    "bot": False,
                    # Seconds into the slot vary, as people's do (a fixed one would look like a timer).
                    "timestamp_ms": at_ms + (k * 7_919 % 110) * SECOND_MS,
                    "size_change": 80 + 10 * (k % 5),
                    "comment": "update with the news",
                    "revision_id": revision,
                }


def bot_account(bot: int) -> str:
    """The name of background bot number ``bot``: most say they are bots, as enwiki requires; one in four
    does not, as on wikis without that rule, so that a detector must learn how bots edit."""
    return f"LinkFixer_{bot}" if bot % 4 == 3 else f"ExampleBot_{bot}"


def _variant(variants: tuple[str, ...], entity: str) -> str:
    """The entity's first listed variant (the name itself when it lists none)."""
    return variants[0] if variants else entity


def recentchange(
    title: str,
    user: str,
    bot: bool,
    timestamp_ms: int,
    size_change: int,
    comment: str,
    revision_id: int,
    namespace: int = 0,
) -> dict:
    """One ``recentchange`` edit event of en.wikipedia, as EventStreams sends it."""
    old_length = 20_000 + (revision_id % 7_919)
    dt = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return {
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {
            "uri": f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
            "id": f"synthetic-{revision_id}",
            "dt": dt.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "domain": "en.wikipedia.org",
            "stream": "mediawiki.recentchange",
        },
        "id": revision_id,
        "type": "edit",
        "namespace": namespace,
        "title": title.replace("_", " "),
        "comment": comment,
        "timestamp": timestamp_ms // 1000,
        "user": user,
        "bot": bot,
        "minor": False,
        "length": {"old": old_length, "new": old_length + size_change},
        "revision": {"old": revision_id - 1, "new": revision_id},
        "server_url": "https://en.wikipedia.org",
        "server_name": "en.wikipedia.org",
        "wiki": "enwiki",
    }


def encode_event(event: dict) -> bytes:
    """The Kafka value of an event: compact JSON, UTF-8."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
