"""The page-request event: the contract between producers and the streaming job.

A page request is UTF-8 JSON ``{"ts": epoch_ms, "project": "en.wikipedia",
"title": "Albert_Einstein"}`` with the title as the Kafka message key, and
optionally ``"access"``: ``desktop``, ``mobile-web`` or ``mobile-app`` (the
site the reader used; absent, or any other value, means unknown). Extra
fields are allowed and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from core.windows import MINUTE_MS

# Events older than this, or further in the future than MAX_FUTURE_MS, are
# "absurd": a clock in seconds instead of milliseconds, or a corrupt field.
MIN_PLAUSIBLE_TS_MS = 978_307_200_000  # 2001-01-01T00:00:00Z, before Wikipedia's first edit
# Clock skew, not more: one event accepted from hours ahead would move event time there and make
# every true event late until the clock caught up.
MAX_FUTURE_MS = 5 * MINUTE_MS
# MediaWiki titles are at most 255 bytes of UTF-8, so never more characters; project names
# (en.wikipedia, zh-min-nan.wiktionary) are short. Longer values are junk, and would make window
# rows too large for Kafka.
MAX_TITLE_CHARS = 255
MAX_PROJECT_CHARS = 64
# Titles cannot hold control characters, nor U+FFFD, which is what bytes that are not UTF-8
# decode to, nor a lone surrogate, which is what a JSON escape such as \ud800 decodes to and
# which no UTF-8 can encode (MediaWiki refuses them all). A regular expression class, for Python
# and Java alike; a valid pair of escapes (\ud83d\ude00) decodes to one character and passes.
FORBIDDEN_IN_TITLES = r"[\x00-\x1f\x7f\uFFFD\uD800-\uDFFF]"
FORBIDDEN_IN_TITLES_REASON = "title contains control characters, or bytes or escapes that are not UTF-8"
# A dead letter keeps at most this much of its payload (a 1 MB record would not fit in the topic).
DEAD_LETTER_PAYLOAD_CHARS = 4096

# The optional access field: the site a reader used. The desktop share of an article's views against
# its wiki's tells readers from automated traffic (core/automated.py).
DESKTOP = "desktop"
MOBILE_ACCESS = ("mobile-web", "mobile-app")
ACCESS_VALUES = (DESKTOP, *MOBILE_ACCESS)

# The exact bytes encode_page_request gives for a title and project that need
# no JSON escaping; the synthetic producer formats with it directly because it
# is several times faster than json.dumps on its hot path.
PAGE_REQUEST_TEMPLATE = b'{"ts":%d,"project":"%s","title":"%s"}'
PAGE_REQUEST_ACCESS_TEMPLATE = b'{"ts":%d,"project":"%s","title":"%s","access":"%s"}'


@dataclass(frozen=True, slots=True)
class PageRequest:
    ts: int
    project: str
    title: str


def normalize_title(title: str) -> str:
    """Wikipedia's canonical form in URLs and dumps: spaces as underscores, no outer blanks."""
    return title.strip().replace(" ", "_")


def project_of_server(server_name: str) -> str:
    """``en.wikipedia.org`` -> ``en.wikipedia``; ``en.m.wikipedia.org`` -> ``en.wikipedia``."""
    parts = [part for part in server_name.lower().removesuffix(".org").split(".") if part != "m"]
    return ".".join(parts)


def encode_page_request(ts: int, project: str, title: str, access: str | None = None) -> bytes:
    """The JSON bytes of one page request (compact, UTF-8, non-ASCII kept as is)."""
    event = {"ts": ts, "project": project, "title": title}
    if access is not None:
        event["access"] = access
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
