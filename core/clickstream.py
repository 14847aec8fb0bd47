"""Wikimedia clickstream: dump lines, where a click came from, and an article's navigation summary.

A monthly dump ``clickstream-<wiki>-YYYY-MM.tsv.gz`` holds, for each pair
(referrer, article), how many times readers followed it. Lines are
tab-separated, without quoting (a title may hold quotes and commas, never a
tab), in one of two layouts:

- today's: ``prev curr type n``;
- the 2015 one: ``prev_id curr_id n prev_title curr_title type`` (with a header line).

The referrer (``prev``) is another article or a source: ``other-search``,
``other-external``, ``other-internal`` (another Wikimedia project),
``other-empty`` (no referrer) and ``other-other``; the 2015 dumps name some
sources (``other-google``, ``other-wikipedia``, ``other-twitter`` …).
``source_of`` sorts every referrer into one of ``SOURCES``; an article
referrer is a ``link`` whatever the line's type (``link``, ``redlink``, or
``other`` when the referrer does not link to the article any more).

This module is pure: the ingest job (batch/clickstream.py) applies the same
rules as Spark expressions, the serving step and the site decode summaries
with it, and the tests hold both to it.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

# Where readers come from, in the order the site shows them.
SOURCES = ("search", "link", "external", "internal", "empty", "other")
SOURCE_OF_REFERRER = {
    "other-search": "search",
    "other-google": "search",
    "other-yahoo": "search",
    "other-bing": "search",
    "other-external": "external",
    "other-twitter": "external",
    "other-facebook": "external",
    "other-internal": "internal",
    "other-wikipedia": "internal",
    "other-empty": "empty",
    "other-other": "other",
}
SOURCE_PREFIX = "other-"  # an unknown other-* referrer is a source too: "other"
# The ingest job's summaries keep each source's clicks in a column of its own: from_search …
SOURCE_COLUMN_PREFIX = "from_"
LINE_TYPES = frozenset({"link", "external", "other", "redlink"})
# The first line of a 2015 dump and of a dump someone saved with a header.
HEADERS = frozenset({"prev_id\tcurr_id\tn\tprev_title\tcurr_title\ttype", "prev\tcurr\ttype\tn"})
CURRENT_FIELDS, LEGACY_FIELDS = 4, 6
_FILE_NAME = re.compile(r"clickstream-(?P<wiki>[a-z][a-z0-9_]*wiki)-(?P<month>\d{4}-\d{2})\.tsv(?:\.gz)?$")
_WIKI = re.compile(r"^[a-z][a-z0-9_]*wiki$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class MalformedClickstreamLine(ValueError):
    """A clickstream line that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class Click:
    """One dump line: ``clicks`` readers went from ``referrer`` to ``article``."""

    referrer: str
    article: str
    line_type: str
    clicks: int

    @property
    def source(self) -> str:
        return source_of(self.referrer)


def source_of(referrer: str) -> str:
    """The kind of referrer: a source from SOURCE_OF_REFERRER, "other" for an unknown other-*, else link."""
    if referrer in SOURCE_OF_REFERRER:
        return SOURCE_OF_REFERRER[referrer]
    return "other" if referrer.startswith(SOURCE_PREFIX) else "link"


def source_column(source: str) -> str:
    return SOURCE_COLUMN_PREFIX + source


def is_header(line: str) -> bool:
    return line.rstrip("\r\n") in HEADERS


def parse_clickstream_line(line: str) -> Click:
    """Read one line of either layout (told apart by its number of tab-separated fields)."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) == CURRENT_FIELDS:
        referrer, article, line_type, clicks = fields
    elif len(fields) == LEGACY_FIELDS:
        referrer_id, article_id, clicks, referrer, article, line_type = fields
        # an id is empty for a source referrer and for a redlink's missing article
        if not all(page_id == "" or page_id.isdigit() for page_id in (referrer_id, article_id)):
            raise MalformedClickstreamLine(f"page ids {referrer_id!r}, {article_id!r} are not whole numbers")
    else:
        raise MalformedClickstreamLine(
            f"expected {CURRENT_FIELDS} or {LEGACY_FIELDS} tab-separated fields, got {len(fields)}"
        )
    if not referrer or not article:
        raise MalformedClickstreamLine("empty referrer or article title")
    if line_type not in LINE_TYPES:
        raise MalformedClickstreamLine(
            f"unknown type {line_type!r} (expected {', '.join(sorted(LINE_TYPES))})"
        )
    if not clicks.isdigit():
        raise MalformedClickstreamLine(f"count {clicks!r} is not a whole number")
    return Click(referrer, article, line_type, int(clicks))


def dump_name_parts(path: str) -> tuple[str, str] | None:
    """``(wiki, month)`` from a name like ``clickstream-enwiki-2024-01.tsv.gz``; None for another name."""
    match = _FILE_NAME.search(path.rsplit("/", 1)[-1])
    return (match["wiki"], match["month"]) if match else None


def dump_file_name(wiki: str, month: str) -> str:
    return f"clickstream-{wiki}-{month}.tsv.gz"


def check_wiki(wiki: str) -> str:
    """A database name like ``enwiki`` or ``zh_yuewiki``; ValueError otherwise."""
    if not _WIKI.match(wiki):
        raise ValueError(f"{wiki!r} is not a wiki's database name like enwiki or dewiki")
    return wiki


def check_month(month: str) -> str:
    """A month like ``2024-01``; ValueError otherwise."""
    if not _MONTH.match(month):
        raise ValueError(f"{month!r} is not a month like 2024-01")
    return month


def project_of_wiki(wiki: str) -> str:
    """``enwiki`` -> ``en.wikipedia``, ``zh_yuewiki`` -> ``zh-yue.wikipedia`` (only Wikipedias have one)."""
    return f"{check_wiki(wiki).removesuffix('wiki').replace('_', '-')}.wikipedia"


def wiki_of_project(project: str) -> str | None:
    """``en.wikipedia`` -> ``enwiki``; None for a project of another family (no clickstream)."""
    language, _, family = project.partition(".")
    return f"{language.replace('-', '_')}wiki" if family == "wikipedia" else None


def summary_bucket(title: str, buckets: int) -> int:
    """Which of a month's summary files holds ``title`` (the ingest job computes the same with crc32)."""
    return zlib.crc32(title.encode("utf-8")) % buckets


@dataclass(frozen=True)
class Referrer:
    title: str  # an article, or the source's name (other-search …) for a source
    source: str  # one of SOURCES
    clicks: int
    share: float  # of the article's incoming clicks


@dataclass(frozen=True)
class Outgoing:
    title: str
    clicks: int
    share: float  # of the clicks out of this article


@dataclass(frozen=True)
class Navigation:
    """Where an article's readers came from and went next, in one month of one wiki."""

    project: str
    title: str
    month: str  # YYYY-MM
    incoming: int  # clicks into the article, from every referrer
    sources: dict[str, int] = field(default_factory=dict)  # clicks by source, every one of SOURCES
    top_referrers: list[Referrer] = field(default_factory=list)
    outgoing: int = 0  # clicks from the article to others
    top_outgoing: list[Outgoing] = field(default_factory=list)

    def source_shares(self) -> dict[str, float]:
        """Each source's share of the incoming clicks (0 when there are none)."""
        return {s: (self.sources.get(s, 0) / self.incoming if self.incoming else 0.0) for s in SOURCES}


def share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def ranked(counts: dict[str, int], top: int) -> list[tuple[str, int]]:
    """The ``top`` largest counts, ties by title: the order the ingest job ranks in too."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def navigation_of(
    clicks: Iterable[Click], project: str, title: str, month: str, top_referrers: int, top_outgoing: int
) -> Navigation | None:
    """The navigation summary of ``title`` from a month's lines; None when it appears in none.

    Lines for the same pair are summed (a dump has one per pair and type).
    """
    incoming: dict[str, int] = defaultdict(int)
    outgoing: dict[str, int] = defaultdict(int)
    for click in clicks:
        if click.article == title:
            incoming[click.referrer] += click.clicks
        if click.referrer == title:
            outgoing[click.article] += click.clicks
    if not incoming and not outgoing:
        return None
    total_in, total_out = sum(incoming.values()), sum(outgoing.values())
    sources = dict.fromkeys(SOURCES, 0)
    for referrer, count in incoming.items():
        sources[source_of(referrer)] += count
    return Navigation(
        project=project,
        title=title,
        month=month,
        incoming=total_in,
        sources=sources,
        top_referrers=[
            Referrer(r, source_of(r), n, share(n, total_in)) for r, n in ranked(incoming, top_referrers)
        ],
        outgoing=total_out,
        top_outgoing=[Outgoing(t, n, share(n, total_out)) for t, n in ranked(outgoing, top_outgoing)],
    )


def navigation_from_json(data: dict) -> Navigation:
    return Navigation(
        project=data["project"],
        title=data["title"],
        month=data["month"],
        incoming=data["incoming"],
        sources=dict(data["sources"]),
        top_referrers=[Referrer(**r) for r in data["top_referrers"]],
        outgoing=data["outgoing"],
        top_outgoing=[Outgoing(**o) for o in data["top_outgoing"]],
    )


@dataclass(frozen=True)
class ListNavigation:
    """The navigation of every article of one published list, as the serving step writes it for the site.

    ``articles`` maps ``project|title`` to the article's summary, or to None when the newest month of its
    wiki does not have it; an article of a wiki without clickstream is absent.
    """

    list_computed_at: int  # the computed_at of the list these are for
    months: dict[str, str]  # wiki -> the month used
    articles: dict[str, Navigation | None]

    def of(self, project: str, title: str) -> Navigation | None:
        return self.articles.get(article_key(project, title))

    def covers(self, project: str, title: str) -> bool:
        """True when the article's wiki has clickstream (absent or not, the panel can say so)."""
        return article_key(project, title) in self.articles

    def month_for(self, project: str) -> str | None:
        """The month the project's articles were looked up in."""
        return self.months.get(wiki_of_project(project) or "")


def article_key(project: str, title: str) -> str:
    return f"{project}|{title}"


def encode_list_navigation(navigation: ListNavigation) -> str:
    document = {
        "list_computed_at": navigation.list_computed_at,
        "months": navigation.months,
        "articles": {
            key: None if value is None else asdict(value) for key, value in navigation.articles.items()
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def decode_list_navigation(raw: bytes | str) -> ListNavigation:
    data = json.loads(raw)
    return ListNavigation(
        list_computed_at=data["list_computed_at"],
        months=dict(data["months"]),
        articles={
            key: None if value is None else navigation_from_json(value)
            for key, value in data["articles"].items()
        },
    )
