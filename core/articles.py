"""Which pages are articles: the one rule the trending list and the anomaly job leave the rest out by.

Readers of a trending list want articles, not the main page, the ``-``
placeholder, searches or talk pages (Topviews and hatnote's top lists drop
them for the same reason). A title is left out when it is one of the
excluded titles, or when the part before its first colon is an excluded
namespace, in any of the spellings the big wikis' dumps carry (en, de, fr,
es, ja, ru). The window topics and the hourly files keep every title: they
are raw data.

The lists live in ``[articles]`` of the configuration (these are the
defaults); ``keep_all = true`` turns the rule off. The same rule is given as
a Python predicate and as an SQL condition that Flink SQL and Spark SQL both
accept, built from the same lists.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.settings import ArticleSettings


def namespace_of(title: str) -> str | None:
    """The namespace prefix of a title (the text before its first colon), or None."""
    head, colon, _ = title.partition(":")
    return head if colon else None


def is_article(title: str, rule: ArticleSettings) -> bool:
    """True when ``title`` is shown in trending and anomaly lists under ``rule``."""
    if rule.keep_all:
        return True
    return title not in rule.excluded_titles and namespace_of(title) not in rule.excluded_namespaces


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in sorted(set(values)))


def article_condition_sql(title: str, rule: ArticleSettings, dialect: str = "flink") -> str:
    """An SQL condition, true for articles: the same rule as ``is_article`` (Flink or Spark SQL)."""
    if rule.keep_all:
        return "TRUE"
    if dialect == "flink":
        namespace = f"SPLIT_INDEX({title}, ':', 0)"
    elif dialect == "spark":
        namespace = f"substring_index({title}, ':', 1)"
    else:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    return (
        f"({title} NOT IN ({_sql_list(rule.excluded_titles)}) AND NOT "
        f"(POSITION(':' IN {title}) > 0 AND {namespace} IN ({_sql_list(rule.excluded_namespaces)})))"
    )
