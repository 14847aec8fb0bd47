"""Precision and recall of the live system's trending lists against what its producer injected.

    .stack/venv/bin/python bench/trending_live.py [--truth .stack/runs/live-ground-truth.json]
                                                  [--from 2026-12-06T09:00:00Z] [--to ...]

Reads the ground truth `make run`'s synthetic producer writes when it starts
(its trends, spike and drop) and every minute's trending list kept in Redis
(the last ``trending_retention_minutes``), and prints for the minutes asked
(default: all kept): how many items were listed, how many were injected
risers (a trend or a spike, from its start until ``--grace`` minutes after
its end), the precision, the injected risers found among those that rose in
those minutes (recall), each with its first minute on the list, and what
else was listed. Then the same for the TRAFFIC_SPIKE alerts in Redis: every
injected riser on a watched title should raise one alert (recall), every alert
should be one of those (precision), and none twice. Needs the live stack
(make run).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import load_settings  # noqa: E402
from core.contracts import EditKeys, Keys  # noqa: E402
from core.edit_rules import TRAFFIC_SPIKE, WatchList  # noqa: E402
from core.snapshots import decode_trending  # noqa: E402
from core.windows import MINUTE_MS, iso_time  # noqa: E402
from producer.world import parse_time_ms  # noqa: E402
from stores.clients import redis_client  # noqa: E402
from stores.edits import WatchListStore  # noqa: E402

RISING_KINDS = ("trend", "spike")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--truth",
        type=Path,
        default=settings.stack.state_path / "runs" / "live-ground-truth.json",
        help="the producer's ground truth (default %(default)s)",
    )
    parser.add_argument("--from", dest="first", help="first minute scored (ISO time; default: oldest kept)")
    parser.add_argument("--to", dest="last", help="last minute scored (ISO time; default: newest)")
    parser.add_argument(
        "--grace", type=int, default=30, help="minutes after a rise ends that it may still be listed"
    )
    parser.add_argument(
        "--archive",
        type=Path,
        help="also keep the lists read in this JSON file, and score every list it holds (Redis keeps an "
        "hour; run this now and then to score a longer stretch)",
    )
    args = parser.parse_args(argv)

    truth = json.loads(args.truth.read_text())
    risers = [s for s in truth["scenarios"] if s["kind"] in RISING_KINDS]
    client, keys = redis_client(settings), Keys(settings.redis)
    lists: dict[int, list[str]] = {}
    if args.archive and args.archive.exists():
        lists = {int(m): titles for m, titles in json.loads(args.archive.read_text()).items()}
    for minute in client.zrange(keys.trending_index, 0, -1):
        raw = client.get(keys.trending_minute(int(minute)))
        if raw:
            lists[int(minute)] = [article.title for article in decode_trending(raw).articles]
    if args.archive:
        args.archive.write_text(json.dumps(lists))
    first = parse_time_ms(args.first) if args.first else min(lists, default=0)
    last = parse_time_ms(args.last) if args.last else max(lists, default=0)
    minutes = sorted(m for m in lists if first <= m <= last)
    if not minutes:
        print("no trending list for those minutes")
        return 1

    def rising(title: str, minute: int) -> bool:
        grace = args.grace * MINUTE_MS
        return any(
            s["title"] == title and s["start_ms"] < minute <= s["start_ms"] + s["duration_ms"] + grace
            for s in risers
        )

    right, other, first_seen = 0, Counter(), {}
    for minute in minutes:
        for title in lists[minute]:
            if rising(title, minute):
                right += 1
                first_seen.setdefault(title, minute)
            else:
                other[title] += 1
    listed = right + sum(other.values())
    due = [s for s in risers if s["start_ms"] < last and s["start_ms"] + s["duration_ms"] > first]
    print(f"{len(minutes)} minute lists, {iso_time(minutes[0])} .. {iso_time(minutes[-1])}")
    print(
        f"listed items: {listed}, injected risers among them: {right}, "
        f"precision {right / listed if listed else 1.0:.3f}"
    )
    found = [s for s in due if s["title"] in first_seen]
    print(
        f"injected risers rising in those minutes: {len(due)}, found: {len(found)}, "
        f"recall {len(found) / len(due) if due else 1.0:.3f}"
    )
    for s in sorted(due, key=lambda s: s["start_ms"]):
        seen = first_seen.get(s["title"])
        when = (
            f"first listed {(seen - s['start_ms']) // MINUTE_MS} min after its start"
            if seen
            else "not listed"
        )
        print(
            f"  {s['kind']:<5} {s['title']:<16} from {iso_time(s['start_ms'])} for "
            f"{s['duration_ms'] // MINUTE_MS:>3} min, +{s['size']}/min: {when}"
        )
    if other:
        print(
            "listed but not injected (item-minutes): "
            + ", ".join(f"{t} {n}" for t, n in other.most_common(15))
        )
    score_traffic_alerts(client, settings, due, first, last, rising)
    return 0


def score_traffic_alerts(client, settings, due: list[dict], first: int, last: int, rising) -> None:
    """TRAFFIC_SPIKE's precision and recall: the injected risers on watched titles, each alerted once."""
    watchlist = WatchList(WatchListStore(client, settings).current())
    alerts = [
        alert
        for alert in map(json.loads, client.zrange(EditKeys(settings.redis).alerts, 0, -1))
        if alert["alert_type"] == TRAFFIC_SPIKE and first <= alert["timestamp_ms"] <= last
    ]
    expected = [s for s in due if watchlist.entity_of(s["title"])]
    right = [a for a in alerts if rising(a["title"], a["timestamp_ms"] + MINUTE_MS)]
    per_riser = Counter(a["title"] for a in right)
    found = [s for s in expected if per_riser[s["title"]]]
    print(
        f"TRAFFIC_SPIKE alerts: {len(alerts)}, on injected risers: {len(right)}, "
        f"precision {len(right) / len(alerts) if alerts else 1.0:.3f}; watched risers: {len(expected)}, "
        f"alerted: {len(found)}, recall {len(found) / len(expected) if expected else 1.0:.3f}; "
        f"alerted more than once: {sum(n > 1 for n in per_riser.values())}"
    )
    for alert in alerts:
        print(f"  {alert['timestamp'][:16]} {alert['entity']}: {alert['title']} ({alert['alert_reason']})")


if __name__ == "__main__":
    sys.exit(main())
