"""A running job vertex's CPU flame graph from Flink's REST API: where its time goes, by frame.

Flink samples a vertex's task threads when its flame graph is asked for (``rest.flamegraph.enabled``,
deploy/flink/config.yaml) and answers with a tree of frames and sample counts. This module asks until
the samples are there, writes them as folded stacks (``frame;frame;frame count``, the input of
flamegraph.pl and speedscope) and sums them by frame: the frames the thread was in itself, and our
own code's frames with everything they called.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from core.config import Settings
from stores.clients import flink_rest

# Frames of our own operators (streaming/jvm) and of the Kafka producer that writes the window topics.
OWN_PACKAGES = ("wikitrends.", "org.apache.kafka.clients.producer.", "org.apache.kafka.common.compress")


def sample(settings: Settings, job_id: str, vertex_id: str, timeout_s: float = 30.0) -> dict | None:
    """The vertex's on-CPU flame graph (a tree of {name, value, children}), or None if none came."""
    path = f"/jobs/{job_id}/vertices/{vertex_id}/flamegraph?type=on_cpu"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = flink_rest(settings, path)
        data = answer.get("data") or {}
        if answer.get("endTimestamp") and data.get("value"):
            return data
        time.sleep(2)
    return None


def folded_stacks(tree: dict) -> Counter:
    """Samples per call stack, root first, as ``a;b;c``: each frame's samples not in its children."""
    stacks: Counter = Counter()
    pending = [(tree, "")]
    while pending:
        node, prefix = pending.pop()
        stack = f"{prefix};{node['name']}" if prefix else node["name"]
        children = node.get("children") or []
        own = node["value"] - sum(child["value"] for child in children)
        if own > 0:
            stacks[stack] += own
        pending += [(child, stack) for child in children]
    return stacks


def summary(stacks: Counter, top: int = 12) -> list[str]:
    """Lines of the frames with the most samples of their own, then our code's frames with their callees."""
    total = sum(stacks.values()) or 1
    own: Counter = Counter()
    inclusive: Counter = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            if frame.startswith(OWN_PACKAGES):
                inclusive[frame] += count
    lines = [f"  on CPU itself ({total:,} samples):"]
    lines += [f"    {count / total:>5.1%}  {frame[:120]}" for frame, count in own.most_common(top)]
    lines.append("  our operators and the Kafka producer, with what they call:")
    lines += [f"    {count / total:>5.1%}  {frame[:120]}" for frame, count in inclusive.most_common(top)]
    return lines


def write_folded(stacks: Counter, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{stack} {count}\n" for stack, count in sorted(stacks.items())))
