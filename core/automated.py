"""Readers or automated traffic: an article whose views come almost only from one site is suspect.

Page requests may say which site the reader used (``access``: desktop, mobile-web or mobile-app;
core/events.py). People read a wiki on both: on English Wikipedia about a third of the views are on
the desktop site. An article whose desktop share over its hour lies outside ``[low, high]`` (10-90 %
by default) while its wiki's lies inside is likely inflated by automated traffic that passed the
spider filter: a script that loads one page from one kind of client. Wikimedia's "most read" feed
drops exactly these, and the Top 25 Report removes them by hand. A wiki whose own share is outside
the bounds (a small wiki read mostly on mobile) flags none of its articles: the rule compares an
article with its wiki, not with English Wikipedia.

Only views of known access count; an article needs ``min_known_views`` of them to be judged (with
30 views the chance of a 10 % share when the wiki's is 35 % is below one in 10^5).

Pure: the trending publisher and the tests' oracle both call :func:`likely_automated`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.trending import Hour, Ranked, TrendingRule, ranked


@dataclass(frozen=True)
class AccessRule:
    """[streaming] automated_* in configs/: the bounds, the sample needed, and whether flagged articles
    leave the lists (they are listed apart either way)."""

    leave_out: bool = True
    low: float = 0.1
    high: float = 0.9
    min_known_views: int = 30

    def __post_init__(self) -> None:
        if not 0.0 <= self.low < self.high <= 1.0 or self.min_known_views < 1:
            raise ValueError(
                "automated traffic: need 0 <= automated_desktop_share_low < automated_desktop_share_high "
                "<= 1 and automated_min_known_views >= 1"
            )

    def inside(self, share: float) -> bool:
        return self.low <= share <= self.high


def desktop_share(desktop: int, mobile: int) -> float | None:
    """The desktop site's share of the views of known access; None when no access is known."""
    known = desktop + mobile
    return desktop / known if known > 0 else None


def mobile_share(desktop: int, mobile: int) -> float | None:
    """The mobile site's share of the views of known access; None when no access is known."""
    share = desktop_share(desktop, mobile)
    return None if share is None else 1.0 - share


def mobile_share_up_to(access_by_hour: dict[int, tuple[int, int]], hour: int) -> float | None:
    """The mobile share of (desktop, mobile) views by hour of day, over hours 0..``hour``."""
    desktop = sum(d for h, (d, _) in access_by_hour.items() if h <= hour)
    mobile = sum(m for h, (_, m) in access_by_hour.items() if h <= hour)
    return mobile_share(desktop, mobile)


def likely_automated(
    desktop: int, mobile: int, wiki_desktop: int, wiki_mobile: int, rule: AccessRule
) -> bool:
    """Whether an article's desktop share (over ``min_known_views`` views of known access) is outside the
    rule's bounds while its wiki's is inside."""
    if desktop + mobile < rule.min_known_views:
        return False
    share, wiki_share = desktop_share(desktop, mobile), desktop_share(wiki_desktop, wiki_mobile)
    if share is None or wiki_share is None:
        return False
    return rule.inside(wiki_share) and not rule.inside(share)


def trending_lists(
    hours: Iterable[tuple[str, str, Hour]],
    site_hours: dict[str, Hour],
    rule: TrendingRule,
    access: AccessRule,
    top: int,
) -> tuple[list[Ranked], list[Ranked]]:
    """The minute's list (at most ``top``, best first) and, apart, the trending articles likely automated.

    With ``access.leave_out`` the flagged ones are not on the list, so the list still holds ``top``
    readers' articles when there are that many; without it they stay on it and are listed apart too.
    """
    found = ranked(hours, site_hours, rule, None)
    automated = [item for item in found if is_automated(item, site_hours, access)]
    flagged = {(item.project, item.title) for item in automated}
    listed = [item for item in found if not (access.leave_out and (item.project, item.title) in flagged)]
    return listed[:top], automated[:top]


def is_automated(item: Ranked, site_hours: dict[str, Hour], access: AccessRule) -> bool:
    """Whether a trending article's hour is likely automated traffic against its wiki's hour."""
    wiki = site_hours[item.project]
    return likely_automated(item.desktop, item.mobile, wiki.desktop, wiki.mobile, access)
