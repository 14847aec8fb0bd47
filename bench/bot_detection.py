"""The bot detector's quality: precision and recall (cross-validated), and the share of bot edits its
lists remove from the next day, against baselines measured in the same run.

    python bench/bot_detection.py [--days 2] [--edits-per-minute 120]

1. Writes ``--days`` of the seeded synthetic edit stream (people at random times, flagged bots on
   timers, some named without "bot", and the unflagged bot's bursts) to ndjson, one file per day.
2. Trains the detector (batch/bots.py through spark-submit, as users run it, on its own S3 prefix) on
   every day but the last, plus the recorded real enwiki sample.
3. Scores the classifier against the bot flag, each account judged by a forest trained without its
   fold (cross-validation, as the job reports it), and the name rule ("the name says bot") as the
   baseline, on the accounts with enough edits to be judged.
4. Replays the last day against the lists the run published (Bloom filters, no flag used): the share
   of bot edits (flagged, or by the unflagged bot) they remove, against the bot flag alone; the share
   of people's edits they take for bots'; and the filters' measured false-positive rate on names never
   listed, against the rate they were built for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import delete_prefix, log, timed  # noqa: E402
from core import bots  # noqa: E402
from core.config import load_settings, private_names  # noqa: E402
from producer.edit_world import UNFLAGGED_BOT, EditWorld, encode_event  # noqa: E402
from producer.world import MINUTE_MS, Catalogue, parse_time_ms  # noqa: E402
from stores.bot_lists import current_pointer, read_bot_lists  # noqa: E402
from stores.clients import read_json_object, s3_client  # noqa: E402
from tests.data import SHARED_DATA  # noqa: E402

START = "2026-03-02T00:00:00Z"
DAY_MINUTES = 24 * 60
STRANGERS = 100_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--days", type=int, default=2, help="days of synthetic edits; the last is the test day"
    )
    parser.add_argument("--edits-per-minute", type=float, default=120.0, help="people's edits per minute")
    parser.add_argument("--seed", type=int, default=11)
    return parser


def write_days(folder: Path, days: int, edits_per_minute: float, seed: int, watchlist) -> list[Path]:
    """The synthetic stream, one ndjson file per simulated day."""
    world = EditWorld(
        Catalogue(6_000_000), seed, parse_time_ms(START), days * DAY_MINUTES, edits_per_minute, watchlist
    )
    paths = [folder / f"day{day + 1}.ndjson" for day in range(days)]
    files = [path.open("wb") for path in paths]
    day_ms = DAY_MINUTES * MINUTE_MS
    for event in world.events():
        day = min((event["timestamp"] * 1000 - world.start_ms) // day_ms, days - 1)
        files[day].write(encode_event(event) + b"\n")
    for file in files:
        file.close()
    return paths


def name_rule(paths: list[Path], min_edits: int) -> bots.DetectionScore:
    """The baseline detector, "the name says bot", on the accounts of the training days the detector
    judges (those with at least ``min_edits`` edits)."""
    flagged: dict[str, bool] = defaultdict(bool)
    edits: dict[str, int] = defaultdict(int)
    for path in paths:
        for line in path.open(encoding="utf-8"):
            event = json.loads(line)
            flagged[event["user"]] |= event.get("bot") is True
            edits[event["user"]] += 1
    return bots.detection_score(
        (is_bot, bots.is_named_bot(user)) for user, is_bot in flagged.items() if edits[user] >= min_edits
    )


def main() -> None:
    args = build_parser().parse_args()
    if args.days < 2:
        raise SystemExit("--days must be at least 2: one to train on, the last to test")
    tag = f"bots{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    client = s3_client(settings)
    with tempfile.TemporaryDirectory(prefix="bench-bots-") as folder:
        log(f"writing {args.days} days of synthetic edits")
        paths = write_days(
            Path(folder), args.days, args.edits_per_minute, args.seed, settings.edits.watchlist
        )
        training = [*paths[:-1], SHARED_DATA / "recentchange-enwiki-2023-07-29.ndjson"]
        inputs = [option for path in training for option in ("--input", str(path))]
        log(f"training on {', '.join(p.name for p in training)} (spark-submit batch/bots.py)")
        try:
            seconds, _, _ = timed(
                [str(ROOT / "deploy" / "local" / "spark-submit"), "batch/bots.py", "--no-topic", *inputs],
                env,
                heartbeat=lambda elapsed, mib, output: log(
                    f"training: {elapsed:.0f} s, {mib:,.0f} MiB; {output[-1].strip()[:120] if output else ''}"
                ),
            )
            pointer = current_pointer(client, settings)
            accounts = read_json_object(client, settings.s3.bucket, pointer["accounts_key"])
            lists = read_bot_lists(client, settings, pointer)
        finally:
            delete_prefix(settings, client, settings.s3.bots_prefix + "/")
        baseline = name_rule(paths[:-1], settings.bots.min_edits)

        flag_only = lists_only = listed = people = people_removed = bot_edits = 0
        for line in paths[-1].open(encoding="utf-8"):
            event = json.loads(line)
            is_bot = event["bot"] or event["user"] == UNFLAGGED_BOT
            removed = lists.source_of(event["user"], flagged=False) is not None
            if is_bot:
                bot_edits += 1
                flag_only += event["bot"]
                lists_only += removed
                listed += removed or event["bot"]
            else:
                people += 1
                people_removed += removed
    strangers = (f"Stranger_{k}" for k in range(STRANGERS))
    false_positives = sum(lists.source_of(name, flagged=False) is not None for name in strangers) / STRANGERS
    report, detected = accounts["report"], [entry["user"] for entry in accounts["detected"]]

    model, per_edit = report["cross_validated"]["accounts"], report["cross_validated"]["edits"]
    print()
    print(f"trained on {report['edits']:,} edits by {report['accounts']:,} accounts in {seconds:.0f} s")
    print(f"detected (unflagged): {', '.join(detected) or 'none'}")
    print()
    judged = f"accounts with {settings.bots.min_edits}+ edits, out of fold (label: the bot flag)"
    print(f"| {judged} | precision | recall | bots |")
    print("|---|---|---|---|")
    bots_held = model["true_positives"] + model["false_negatives"]
    print(
        f"| random forest (batch/bots.py) | {model['precision']:.3f} | {model['recall']:.3f} | {bots_held} |"
    )
    print(f"| weighted by edits | {per_edit['precision']:.3f} | {per_edit['recall']:.3f} | |")
    print(f"| baseline: the name says bot | {baseline.precision:.3f} | {baseline.recall:.3f} | {bots_held} |")
    print()
    print(f"| last day: {bot_edits:,} bot edits, {people:,} people's | share removed | vs the flag alone |")
    print("|---|---|---|")
    print(f"| the bot flag alone | {flag_only / bot_edits:.3f} | 1.00× |")
    print(f"| the lists alone (Bloom filters, no flag) | {lists_only / bot_edits:.3f} | |")
    print(f"| flag + lists | {listed / bot_edits:.3f} | {listed / max(flag_only, 1):.2f}× |")
    print(f"| people's edits taken for bots' | {people_removed / max(people, 1):.4f} | |")
    print(
        f"| filters' false positives on {STRANGERS:,} unlisted names | {false_positives:.4f} | "
        f"built for {settings.bots.filter_false_positive_rate} |"
    )


if __name__ == "__main__":
    main()
