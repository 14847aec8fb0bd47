"""The page-request event: the contract between producers and the streaming job.

A page request is UTF-8 JSON ``{"ts": epoch_ms, "project": "en.wikipedia",
"title": "Albert_Einstein"}`` with the title as the Kafka message key. Extra
fields are allowed and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Events older than this, or further in the future than MAX_FUTURE_MS, are
# "absurd": a clock in seconds instead of milliseconds, or a corrupt field.
MIN_PLAUSIBLE_TS_MS = 978_307_200_000  # 2001-01-01T00:00:00Z, before Wikipedia's first edit
MAX_FUTURE_MS = 24 * 3600 * 1000

# The exact bytes encode_page_request gives for a title and project that need
# no JSON escaping; the synthetic producer formats with it directly because it
# is several times faster than json.dumps on its hot path.
PAGE_REQUEST_TEMPLATE = b'{"ts":%d,"project":"%s","title":"%s"}'


class MalformedEvent(ValueError):
    """A message that is not a valid page request; the message says why."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    ts: int
    project: str
    title: str


def normalize_title(title: str) -> str:
    """Wikipedia's canonical form in URLs and dumps: spaces as underscores, no outer blanks."""
    return title.strip().replace(" ", "_")


def encode_page_request(ts: int, project: str, title: str) -> bytes:
    """The JSON bytes of one page request (compact, UTF-8, non-ASCII kept as is)."""
    return json.dumps(
        {"ts": ts, "project": project, "title": title}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def parse_page_request(raw: bytes, now_ms: int) -> PageRequest:
    """Decode and validate one page request; raises MalformedEvent with the reason."""
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent(f"not UTF-8 JSON: {error}") from None
    if not isinstance(event, dict):
        raise MalformedEvent(f"not a JSON object but {type(event).__name__}")
    ts, project, title = event.get("ts"), event.get("project"), event.get("title")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise MalformedEvent(f"ts must be epoch milliseconds as an integer, got {ts!r}")
    if ts < MIN_PLAUSIBLE_TS_MS or ts > now_ms + MAX_FUTURE_MS:
        raise MalformedEvent(f"ts {ts} is outside 2001-01-01 .. now + 1 day")
    if not isinstance(project, str) or not project:
        raise MalformedEvent(f"project must be a non-empty string, got {project!r}")
    if not isinstance(title, str) or not title.strip():
        raise MalformedEvent(f"title must be a non-empty string, got {title!r}")
    return PageRequest(ts=ts, project=project, title=title)
