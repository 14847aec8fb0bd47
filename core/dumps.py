"""Wikimedia hourly pageview dumps: file names, lines, domain codes and article filters.

Files are named ``pageviews-YYYYMMDD-HH0000[.gz]`` (``pagecounts-`` for the
older raw dumps); each line is ``domain_code page_title count_views
total_response_size``. Wikimedia documents that the time in the file name is
the END of the hour the file covers (``pageviews-20160607-170000`` holds
16:00-17:00 UTC); that is the default here, and ``start`` is accepted for
dumps made another way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import unquote

FileTime = Literal["end", "start"]
DEFAULT_FILE_TIME: FileTime = "end"

_FILE_NAME = re.compile(r"^(?P<kind>pageviews|pagecounts)-(?P<date>\d{8})-(?P<hour>\d{2})0000(?:\.gz)?$")

# Second part of a domain code -> the project's site family.
PROJECT_SUFFIXES = {
    "": "wikipedia",
    "b": "wikibooks",
    "d": "wiktionary",
    "f": "wikimediafoundation",
    "n": "wikinews",
    "q": "wikiquote",
    "s": "wikisource",
    "v": "wikiversity",
    "voy": "wikivoyage",
    "w": "mediawiki",
    "wd": "wikidata",
}
SUFFIX_OF_FAMILY = {family: suffix for suffix, family in PROJECT_SUFFIXES.items()}
# Markers of the access site, not of the project: mobile and Wikipedia Zero.
ACCESS_MARKERS = {"m", "zero", "mw"}
# Sites under wikimedia.org, whose ".m" means wikimedia, not mobile ("commons.m").
WIKIMEDIA_SITES = frozenset(
    {
        "commons",
        "meta",
        "species",
        "incubator",
        "outreach",
        "wikimania",
        "foundation",
        "strategy",
        "usability",
    }
)


class MalformedLine(ValueError):
    """A dump line that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class DumpLine:
    domain_code: str
    title: str
    views: int
    response_bytes: int


def parse_dump_line(line: str) -> DumpLine:
    """Read one ``domain_code page_title count_views total_response_size`` line."""
    fields = line.rstrip("\r\n").split(" ")
    if len(fields) != 4:
        raise MalformedLine(f"expected 4 space-separated fields, got {len(fields)}")
    domain_code, title, views, response_bytes = fields
    if not domain_code or not title:
        raise MalformedLine("empty domain code or title")
    if not views.isdigit():
        raise MalformedLine(f"count_views {views!r} is not a whole number")
    if not response_bytes.isdigit():
        raise MalformedLine(f"total_response_size {response_bytes!r} is not a whole number")
    return DumpLine(domain_code, title, int(views), int(response_bytes))


def format_dump_line(domain_code: str, title: str, views: int, response_bytes: int = 0) -> str:
    """One dump line, newline included (pageviews dumps write 0 for the size)."""
    return f"{domain_code} {title} {views} {response_bytes}\n"


def decode_title(raw_title: str) -> str:
    """The title as a reader writes it: percent-decoded UTF-8, spaces as underscores."""
    try:
        title = unquote(raw_title, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise MalformedLine(f"title {raw_title!r} is not percent-encoded UTF-8: {error.reason}") from None
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:  # raw bytes that were not UTF-8, kept as surrogates by the reader
        raise MalformedLine(f"title {raw_title!r} has bytes that are not UTF-8") from None
    title = title.replace(" ", "_")
    if not title.strip("_"):
        raise MalformedLine(f"title {raw_title!r} is empty once decoded")
    return title


def project_of(domain_code: str) -> str:
    """``en`` -> ``en.wikipedia``, ``en.m`` -> ``en.wikipedia``, ``de.b`` -> ``de.wikibooks``."""
    language, wikimedia_site, rest = _split_domain_code(domain_code)
    if wikimedia_site:
        return f"{language}.wikimedia"
    parts = [part for part in rest if part not in ACCESS_MARKERS]
    if len(parts) > 1 or (parts and parts[0] not in PROJECT_SUFFIXES):
        raise MalformedLine(f"unknown domain code {domain_code!r}")
    family = PROJECT_SUFFIXES[parts[0] if parts else ""]
    return f"{language}.{family}"


def _split_domain_code(domain_code: str) -> tuple[str, bool, list[str]]:
    """(language, whether it is a wikimedia.org site, the parts after it): ``commons.m.m`` ->
    ("commons", True, ["m"]); ``de.m.voy`` -> ("de", False, ["m", "voy"])."""
    language, *rest = domain_code.lower().split(".")
    if language in WIKIMEDIA_SITES and rest[:1] == ["m"]:
        return language, True, rest[1:]
    return language, False, rest


def access_of(domain_code: str) -> str:
    """The site a line's views came from: ``en.m``, ``en.zero``, ``de.m.voy`` -> mobile-web; ``en`` ->
    desktop (``commons.m`` is Commons' desktop site, ``commons.m.m`` its mobile one). The dumps cannot
    tell the mobile app from the mobile web: both are counted on the mobile domain."""
    _, _, rest = _split_domain_code(domain_code)
    return "mobile-web" if any(part in ACCESS_MARKERS for part in rest) else "desktop"


def parse_projects(text: str) -> frozenset[str]:
    """``en,de.wiktionary`` -> {en.wikipedia, de.wiktionary}: a bare language code means its Wikipedia."""
    projects = set()
    for item in (part.strip().lower() for part in text.split(",")):
        if not item:
            continue
        project = item if "." in item else f"{item}.wikipedia"
        domain_code_of(project)  # raises ValueError, with the name, for an unknown family
        projects.add(project)
    return frozenset(projects)


def domain_code_of(project: str) -> str:
    """The desktop domain code of a project: ``en.wikipedia`` -> ``en``."""
    language, _, family = project.partition(".")
    if family not in SUFFIX_OF_FAMILY:
        raise ValueError(f"no domain code for project {project!r}")
    suffix = SUFFIX_OF_FAMILY[family]
    return f"{language}.{suffix}" if suffix else language


def dump_hour_start(file_name: str, file_time: FileTime = DEFAULT_FILE_TIME) -> datetime:
    """The UTC start of the hour a dump file covers, from its name."""
    match = _FILE_NAME.match(file_name.rsplit("/", 1)[-1])
    if not match:
        raise ValueError(f"{file_name!r} is not named like pageviews-YYYYMMDD-HH0000[.gz]")
    stamp = datetime.strptime(match["date"] + match["hour"], "%Y%m%d%H").replace(tzinfo=UTC)
    return stamp - timedelta(hours=1) if file_time == "end" else stamp


def dump_file_name(hour_start: datetime, file_time: FileTime = DEFAULT_FILE_TIME, gz: bool = True) -> str:
    """The dump file name for the hour starting at ``hour_start`` (UTC)."""
    stamp = hour_start + timedelta(hours=1) if file_time == "end" else hour_start
    return f"pageviews-{stamp:%Y%m%d-%H}0000" + (".gz" if gz else "")
