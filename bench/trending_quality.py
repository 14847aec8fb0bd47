"""Trending quality on the real streaming job: recall, detection delay, precision and the clean hour.

    .stack/venv/bin/python bench/trending_quality.py [--seed 7] [--minutes 285] [--rule rise]

Builds the seeded world of bench/trending_world.py (two wikis with opposite
rhythms, steady articles from 0.5 to 500 views a minute, risers x1.5-x10
over 30-120 minutes, one-window bursts, fallers, bot-inflated articles whose
added views are all desktop, a clean hour), loads its
page requests into a private ``pageviews`` topic, runs streaming/pageviews/job.py on
the Flink cluster over it (bounded, every minute's list kept, the cap raised
so that it hides nothing), reads every minute's list back from Redis and
scores it against the ground truth:

- per band and growth: recall (found while rising or within an hour of the
  rise's end) for each duration, and the median minutes from the rise's
  start to the first list that shows it;
- precision of the published lists from the first change on (a listed item
  is right when it is a riser between its start and an hour after its rise);
  what the wrong items were;
- the clean hour: steady articles listed per hour;
- automated traffic: how often a bot-inflated article was on the list (never, by the
  goal), and the flag's recall (bots listed apart as likely automated) and precision
  (of the articles listed apart, the bots).

Then the goals: precision >= 0.95; recall >= 0.95 for risers of x2 or more
whose newest window reaches 50 views; no steady article in the clean hour.

TRAFFIC_SPIKE, from the same run: every other riser, every burst and faller
and as many steady articles are put on the watch list (as the API writes it);
the alerts the job raises are scored like the lists (an alert is right on a
riser between its start and an hour after its rise), with recall over the
watched risers of the goal, and no riser may be alerted twice.
``--rule never-decreasing`` scores the seed's rule on the same world.
Needs the stack (make up). Uses its own topics and Redis keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.pipeline import private_pipeline, topic_size  # noqa: E402
from bench.trending_scores import (  # noqa: E402
    GOAL_PRECISION,
    GOAL_RECALL,
    Lists,
    print_automated_report,
    print_traffic_report,
    score_automated,
    score_traffic_alerts,
    watch,
    watched_articles,
)
from bench.trending_world import (  # noqa: E402
    BANDS,
    CLEAN_HOUR,
    DURATIONS,
    FIRST_CHANGE_MINUTE,
    GROWTHS,
    Article,
    build_world,
    desktop_views,
    expected_events,
    in_goal,
    is_rising_at,
    minute_ms,
    minute_views,
)
from core.config import Settings, load_settings  # noqa: E402
from core.contracts import Keys  # noqa: E402
from core.snapshots import decode_trending  # noqa: E402
from core.windows import MINUTE_MS, iso_time  # noqa: E402
from producer.sink import PageRequestSink, Progress  # noqa: E402
from stores.clients import flink_rest, redis_client  # noqa: E402
from streaming.flink_jobs import cancel, submit  # noqa: E402


def load_events(settings: Settings, articles: list[Article], minutes: int, seed: int) -> int:
    """Every page request of the world into the private topic, in time order; how many."""
    views = minute_views(articles, minutes, seed)
    rng = np.random.default_rng([seed, 2])
    total = int(views.sum())
    print(f"loading {total:,} page requests ({minutes} simulated minutes, {len(articles):,} articles)")
    desktop = desktop_views(articles, views, seed)
    sink = PageRequestSink(settings.kafka.bootstrap, settings.kafka.pageviews_topic, "trending-quality")
    keys = [a.title.encode() for a in articles]
    # Titles here need no JSON escaping: only ts changes between an article's events. Suffixes by
    # [access][article]: mobile, desktop.
    suffixes = [
        [f',"project":"{a.project}","title":"{a.title}","access":"{site}"}}'.encode() for a in articles]
        for site in ("mobile-web", "desktop")
    ]
    sent, shown = 0, Progress("  sent", total, every_s=15)
    for minute in range(minutes):
        column = views[:, minute]
        indexes = np.repeat(np.arange(len(articles)), column)
        # An article's first desktop[i] events of the minute are its desktop ones (their times are drawn
        # independently, so which ones does not matter).
        position = np.arange(indexes.size) - np.repeat(np.cumsum(column) - column, column)
        on_desktop = (position < np.repeat(desktop[:, minute], column)).astype(np.int64)
        # Spread over the minute and sent in time order, as live traffic comes (the job's watermark
        # trails the newest event by 30 s: a minute sent out of order would be half late).
        times = minute_ms(minute) + rng.integers(0, MINUTE_MS, indexes.size)
        order = np.argsort(times, kind="stable")
        batch_keys = [keys[i] for i in indexes[order].tolist()]
        batch_values = [
            b'{"ts":' + str(ts).encode() + suffixes[site][i]
            for ts, i, site in zip(
                times[order].tolist(), indexes[order].tolist(), on_desktop[order].tolist(), strict=True
            )
        ]
        sink.send_many(batch_keys, batch_values)
        sent += len(batch_keys)
        shown.update(sent)
    stats = sink.close()
    if stats.failed:
        raise RuntimeError(f"{stats.failed} page requests were not delivered: {stats.first_error}")
    shown.update(sent, force=True)
    return sent


def run_job(settings: Settings, env: dict[str, str], minutes: int) -> None:
    """The streaming job over the whole topic, bounded; waits for it to finish, with progress lines."""
    job_id = submit(env, "-py", "streaming/pageviews/job.py", "--bounded", "--startup", "earliest-offset")
    print(f"streaming job {job_id} submitted (bounded)", flush=True)
    keys, client = Keys(settings.redis), redis_client(settings)
    began, shown = time.monotonic(), Progress("  simulated minutes listed", minutes, every_s=15)
    last = minute_ms(minutes)
    while (state := flink_rest(settings, f"/jobs/{job_id}")["state"]) not in (
        "FINISHED",
        "FAILED",
        "CANCELED",
    ):
        time.sleep(15)
        raw = client.get(keys.trending_latest)
        newest = decode_trending(raw).minute if raw else minute_ms(0)
        done = (newest - minute_ms(0)) // MINUTE_MS
        shown.update(max(done, 0), force=True)
        if time.monotonic() - began > 3600:
            cancel(settings, job_id, discard_checkpoints=True)
            raise RuntimeError("the streaming job took over an hour; cancelled")
    if state != "FINISHED":
        raise RuntimeError(f"the streaming job ended {state}")
    newest = decode_trending(client.get(keys.trending_latest)).minute
    if newest < last:
        raise RuntimeError(
            f"the job finished with its newest list at {iso_time(newest)}, before {iso_time(last)}"
        )
    print(f"  job finished in {time.monotonic() - began:.0f} s", flush=True)


def read_lists(settings: Settings, minutes: int, save: Path | None) -> tuple[Lists, Lists]:
    """Every minute's published list, and its articles listed apart as likely automated, as (project,
    title) by minute from the start; the whole documents to ``save`` if given."""
    keys, client = Keys(settings.redis), redis_client(settings)
    lists, automated, documents = {}, {}, {}
    for minute in range(1, minutes + 1):
        raw = client.get(keys.trending_minute(minute_ms(minute)))
        if raw is not None:
            snapshot = decode_trending(raw)
            lists[minute] = [(a.project, a.title) for a in snapshot.articles]
            automated[minute] = [(a.project, a.title) for a in snapshot.automated]
            documents[minute] = json.loads(raw)
    if save:
        save.write_text(json.dumps(documents))
    return lists, automated


def score(articles: list[Article], lists: dict[int, list[tuple[str, str]]], minutes: int) -> dict:
    """Recall, delays, precision and clean-hour listings against the world's ground truth."""
    by_name = {(a.project, a.title): a for a in articles}
    first_seen: dict[tuple[str, str], int] = {}
    right, wrong = 0, Counter()
    clean_steady: set = set()
    for minute, items in sorted(lists.items()):
        for name in items:
            article = by_name[name]
            if (minute in CLEAN_HOUR or minute == CLEAN_HOUR.stop) and article.kind != "riser":
                clean_steady.add(name)
            if minute <= FIRST_CHANGE_MINUTE:
                continue
            if is_rising_at(article, minute):
                right += 1
                first_seen.setdefault(name, minute)
            else:
                wrong[f"{article.kind} (band {article.band:g})" if article.band else article.kind] += 1
    risers = [a for a in articles if a.kind == "riser"]
    recall: dict[tuple[float, float, int], tuple[int, int]] = {}
    delays: dict[tuple[float, float], list[int]] = defaultdict(list)
    for a in risers:
        found = (a.project, a.title) in first_seen
        hits, count = recall.get((a.band, a.growth, a.duration), (0, 0))
        recall[(a.band, a.growth, a.duration)] = (hits + found, count + 1)
        if found:
            delays[(a.band, a.growth)].append(first_seen[(a.project, a.title)] - a.start)
    goal = [a for a in risers if in_goal(a)]
    goal_found = sum((a.project, a.title) in first_seen for a in goal)
    listed = right + sum(wrong.values())
    return {
        "recall": recall,
        "delays": delays,
        "precision": right / listed if listed else 1.0,
        "listed": listed,
        "right": right,
        "wrong": wrong,
        "clean_steady": sorted(clean_steady),
        "goal_recall": goal_found / len(goal) if goal else 1.0,
        "goal_risers": len(goal),
        "goal_missed": sorted(a.title for a in goal if (a.project, a.title) not in first_seen),
        "lists": len(lists),
    }


def print_report(result: dict, rule: str) -> bool:
    print(f"\nrule {rule}: {result['lists']} minute lists read back")
    header = "  ".join(f"{d:>4}m" for d in DURATIONS)
    print(
        "\nrecall by band (views a minute) and growth, per rise duration; median delay from the rise's start"
    )
    print(f"  {'band':>5} {'growth':>6}  {header}  {'delay':>6}")
    for band in BANDS:
        for growth in GROWTHS:
            cells = []
            for duration in DURATIONS:
                hits, count = result["recall"].get((band, growth, duration), (0, 0))
                cells.append(f"{hits / count:>5.2f}" if count else f"{'-':>5}")
            delays = result["delays"].get((band, growth))
            delay = f"{median(delays):>4.0f} m" if delays else f"{'-':>6}"
            print(f"  {band:>5g} {f'x{growth:g}':>6}  {'  '.join(cells)}  {delay}")
    wrong = ", ".join(f"{kind} {n}" for kind, n in result["wrong"].most_common()) or "none"
    print(
        f"\nprecision of the published lists: {result['precision']:.3f} "
        f"({result['right']:,} of {result['listed']:,} listed items; wrong: {wrong})"
    )
    print(f"clean hour: {len(result['clean_steady'])} steady articles listed {result['clean_steady'][:10]}")
    goals = [
        ("precision >= 0.95", result["precision"] >= GOAL_PRECISION, f"{result['precision']:.3f}"),
        (
            f"recall >= 0.95 for x2+ risers reaching 50 views a window ({result['goal_risers']})",
            result["goal_recall"] >= GOAL_RECALL,
            f"{result['goal_recall']:.3f}; missed {result['goal_missed']}",
        ),
        ("no steady article in the clean hour", not result["clean_steady"], str(len(result["clean_steady"]))),
    ]
    print("\ngoals:")
    for what, met, figure in goals:
        print(f"  {'met' if met else 'NOT MET':>7}  {what}: {figure}")
    return all(met for _, met, _ in goals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=7, help="the world's seed (default %(default)s)")
    parser.add_argument("--minutes", type=int, default=285, help="simulated minutes (default %(default)s)")
    parser.add_argument(
        "--rule", choices=["rise", "never-decreasing"], default="rise", help="the trending rule to score"
    )
    parser.add_argument("--save-lists", type=Path, help="also write every minute's list to this JSON file")
    args = parser.parse_args(argv)
    if args.minutes < FIRST_CHANGE_MINUTE + 60:
        parser.error(f"--minutes must be at least {FIRST_CHANGE_MINUTE + 60}")

    articles = build_world(args.seed, args.minutes)
    print(
        f"world: {len(articles):,} articles, about {expected_events(articles, args.minutes):,} page requests"
    )
    with private_pipeline("tq") as (_, env, _settings):
        env.update(
            {
                "WIKITRENDS_STREAMING_TRENDING_RULE": args.rule,
                "WIKITRENDS_STREAMING_TRENDING_TOP": "10000",
                "WIKITRENDS_STREAMING_TRENDING_RETENTION_MINUTES": str(10 * args.minutes),
                "WIKITRENDS_EDITS_ALERTS_KEPT": "100000",
            }
        )
        settings = load_settings(env)
        watched = watched_articles(articles, args.seed)
        watch(settings, watched)
        load_events(settings, articles, args.minutes, args.seed)
        run_job(settings, env, args.minutes)
        lists, automated = read_lists(settings, args.minutes, args.save_lists)
        dead = topic_size(settings, settings.kafka.dead_letter_topic)
        if dead:
            print(
                f"{dead:,} page requests were dead-lettered (late or bad): "
                "the lists are not of the world's counts"
            )
            return 2
        traffic = score_traffic_alerts(settings, watched)
        client = redis_client(settings)
        for key in client.scan_iter(f"{settings.redis.key_prefix}:*"):
            client.delete(key)
    result = score(articles, lists, args.minutes)
    lists_met = print_report(result, args.rule)
    automated_met = print_automated_report(score_automated(articles, lists, automated))
    return 0 if print_traffic_report(traffic) and lists_met and automated_met else 1


if __name__ == "__main__":
    sys.exit(main())
