"""What bench/trending_quality.py scores beside the lists: the likely automated list and TRAFFIC_SPIKE.

The world is bench/trending_world.py's; the goals are the lists' (precision and recall 0.95).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from bench.trending_world import Article, in_goal, is_rising_at, minute_ms
from core.config import Settings
from core.contracts import EditKeys
from core.edit_rules import TRAFFIC_SPIKE
from core.windows import MINUTE_MS
from stores.clients import redis_client
from stores.edits import change_watchlist_args, change_watchlist_script

GOAL_PRECISION, GOAL_RECALL = 0.95, 0.95
Lists = dict[int, list[tuple[str, str]]]


def score_automated(articles: list[Article], lists: Lists, automated: Lists) -> dict:
    """Bot-inflated articles on the list (should be none), and the flag's recall and precision."""
    by_name = {(a.project, a.title): a for a in articles}
    bots = {name for name, a in by_name.items() if a.kind == "bot"}
    listed = Counter(name for items in lists.values() for name in items if name in bots)
    flagged = Counter(name for items in automated.values() for name in items)
    right = sum(n for name, n in flagged.items() if name in bots)
    total = sum(flagged.values())
    return {
        "bots": len(bots),
        "listed": sum(listed.values()),
        "listed_bots": sorted(title for _, title in listed),
        "flagged_bots": len(bots & set(flagged)),
        "recall": len(bots & set(flagged)) / len(bots) if bots else 1.0,
        "precision": right / total if total else 1.0,
        "flagged": total,
        "wrong": sorted({by_name[name].kind for name in flagged if name not in bots}),
    }


def print_automated_report(result: dict) -> bool:
    print(
        f"\nautomated traffic: {result['bots']} bot-inflated articles (desktop-only bursts, x20 for 90 min)"
    )
    print(f"  on the published lists: {result['listed']} times {result['listed_bots'][:5]}")
    print(
        f"  listed apart as likely automated: {result['flagged_bots']} of {result['bots']} bots "
        f"(recall {result['recall']:.3f}); precision {result['precision']:.3f} of {result['flagged']} "
        f"items listed apart (others: {result['wrong'] or 'none'})"
    )
    goals = [
        ("no bot-inflated article on the list", result["listed"] == 0, str(result["listed"])),
        (
            f"flag precision >= {GOAL_PRECISION}",
            result["precision"] >= GOAL_PRECISION,
            f"{result['precision']:.3f}",
        ),
    ]
    for what, met, figure in goals:
        print(f"  {'met' if met else 'NOT MET':>7}  {what}: {figure}")
    return all(met for _, met, _ in goals)


def watched_articles(articles: list[Article], seed: int) -> list[Article]:
    """Every other riser, every burst and faller, and as many steady articles (seeded)."""
    risers = [a for a in articles if a.kind == "riser"][::2]
    others = [a for a in articles if a.kind in ("burst", "faller")]
    steady = [a for a in articles if a.kind == "steady"]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(steady), size=min(len(risers), len(steady)), replace=False)
    return risers + others + [steady[i] for i in sorted(picked)]


def watch(settings: Settings, watched: list[Article]) -> None:
    """Put each watched article on the watch list as an entity of its own, as the API writes it."""
    client, keys = redis_client(settings), EditKeys(settings.redis)
    change = change_watchlist_script(client)
    for article in watched:
        args = change_watchlist_args(settings, f"{article.project} {article.title}", [article.title])
        change(keys=[keys.watchlist, keys.watchlist_version], args=args)


def score_traffic_alerts(settings: Settings, watched: list[Article]) -> dict:
    """TRAFFIC_SPIKE's precision, recall over the watched goal risers, and risers alerted twice."""
    client = redis_client(settings)
    by_name = {(a.project, a.title): a for a in watched}
    alerts = [
        alert
        for alert in map(json.loads, client.zrange(EditKeys(settings.redis).alerts, 0, -1))
        if alert["alert_type"] == TRAFFIC_SPIKE
    ]
    alerted: Counter = Counter()
    right, wrong = 0, Counter()
    for alert in alerts:
        article = by_name.get((alert["project"], alert["title"]))
        minute = (alert["timestamp_ms"] - minute_ms(0)) // MINUTE_MS
        if article is not None and is_rising_at(article, minute):
            right += 1
            alerted[(article.project, article.title)] += 1
        else:
            wrong[article.kind if article else "not watched"] += 1
    goal = [a for a in watched if in_goal(a)]
    found = [a for a in goal if alerted[(a.project, a.title)]]
    return {
        "alerts": len(alerts),
        "precision": right / len(alerts) if alerts else 1.0,
        "wrong": wrong,
        "goal": len(goal),
        "recall": len(found) / len(goal) if goal else 1.0,
        "twice": sum(n > 1 for n in alerted.values()),
        "watched": Counter(a.kind for a in watched),
    }


def print_traffic_report(result: dict) -> bool:
    watched = ", ".join(f"{n} {kind}" for kind, n in sorted(result["watched"].items()))
    print(f"\nTRAFFIC_SPIKE: watched {watched}; {result['alerts']} alerts")
    print(f"  precision {result['precision']:.3f}; wrong: {dict(result['wrong']) or 'none'}")
    print(f"  recall over {result['goal']} watched goal risers: {result['recall']:.3f}")
    goals = [
        (
            f"precision >= {GOAL_PRECISION}",
            result["precision"] >= GOAL_PRECISION,
            f"{result['precision']:.3f}",
        ),
        (f"recall >= {GOAL_RECALL}", result["recall"] >= GOAL_RECALL, f"{result['recall']:.3f}"),
        ("no riser alerted twice", result["twice"] == 0, str(result["twice"])),
    ]
    for what, met, figure in goals:
        print(f"  {'met' if met else 'NOT MET':>7}  {what}: {figure}")
    return all(met for _, met, _ in goals)
