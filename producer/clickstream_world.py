"""A month of synthetic clickstream for the synthetic world's catalogue (producer/world.py).

The history mode writes it beside the hourly dumps (producer/history.py), so that the navigation
panels of make run's lists have a month to show.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from producer.world import Catalogue

# Where the synthetic world's readers come from, on average (each article gets its own mix around it),
# and how many articles link to each one. Wikimedia publishes only pairs of more than 10 clicks a month.
CLICKSTREAM_SOURCE_MIX = {
    "other-search": 0.50,
    "other-empty": 0.20,
    "link": 0.20,
    "other-external": 0.06,
    "other-internal": 0.02,
    "other-other": 0.02,
}
CLICKSTREAM_MAX_LINKING = 6
CLICKSTREAM_MIN_CLICKS = 11
MINUTES_PER_MONTH = 30 * 24 * 60


def synthetic_clickstream(
    catalogue: Catalogue, views_per_minute: float, top_ranks: int, seed: int
) -> Iterator[tuple[str, str, str, int]]:
    """A month of clickstream lines (prev, curr, type, n) for the ``top_ranks`` most popular articles.

    Each article's month of views (its popularity times 30 days of the stream's rate) is split between
    the sources by a mix drawn around CLICKSTREAM_SOURCE_MIX, its link clicks between 1 to 6 more popular
    articles; pairs of 10 clicks or fewer are left out, as in Wikimedia's dumps. Seeded per article.
    """
    sources = list(CLICKSTREAM_SOURCE_MIX)
    mix = np.array([CLICKSTREAM_SOURCE_MIX[s] for s in sources]) * 50
    monthly = catalogue.probabilities[:top_ranks] * views_per_minute * MINUTES_PER_MONTH
    for rank in range(min(top_ranks, catalogue.size)):
        rng = np.random.Generator(np.random.PCG64([seed, rank, 2]))
        clicks = rng.multinomial(rng.poisson(monthly[rank]), rng.dirichlet(mix))
        title = catalogue.title(rank)
        for source, n in zip(sources, clicks, strict=True):
            if source != "link":
                if n >= CLICKSTREAM_MIN_CLICKS:
                    yield source, title, "external", int(n)
                continue
            linking = rng.integers(1, CLICKSTREAM_MAX_LINKING + 1)
            referrers = {int(r) for r in rng.integers(0, max(rank, 1), linking) if r != rank}
            if not referrers:
                continue
            split = rng.multinomial(n, rng.dirichlet(np.ones(len(referrers))))
            for referrer, count in zip(sorted(referrers), split, strict=True):
                if count >= CLICKSTREAM_MIN_CLICKS:
                    yield catalogue.title(referrer), title, "link", int(count)
