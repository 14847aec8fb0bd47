"""The one rule that keeps non-articles out of the trending and anomaly lists (core/articles.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.articles import article_condition_sql, is_article, namespace_of
from core.config import load_settings

RULE = load_settings({}).articles


@pytest.mark.parametrize(
    ("title", "article"),
    [
        ("Albert_Einstein", True),
        ("Star_Wars:_Episode_IV_–_A_New_Hope", True),  # a colon inside an article's title
        ("Wikipedia", True),  # the article about Wikipedia, not the namespace
        ("Main_Page", False),
        ("-", False),
        ("Special:Search", False),
        ("Talk:Albert_Einstein", False),
        ("User_talk:Someone", False),
        ("Spezial:Suche", False),  # de
        ("Benutzer_Diskussion:Jemand", False),
        ("Spécial:Recherche", False),  # fr
        ("Discussion_utilisateur:Quelqu'un", False),
        ("Especial:Buscar", False),  # es
        ("特別:検索", False),  # ja
        ("利用者‐会話:誰か", False),
        ("Служебная:Поиск", False),  # ru
        ("Заглавная_страница", False),
        ("Москва", True),
    ],
)
def test_articles_and_the_rest(title: str, article: bool) -> None:
    assert is_article(title, RULE) is article


def test_keep_all_turns_the_rule_off() -> None:
    assert is_article("Special:Search", replace(RULE, keep_all=True))
    assert article_condition_sql("title", replace(RULE, keep_all=True)) == "TRUE"


def test_the_namespace_is_the_text_before_the_first_colon() -> None:
    assert namespace_of("Talk:A:B") == "Talk"
    assert namespace_of("Plain") is None


def test_the_sql_condition_is_built_from_the_same_lists_and_quotes_them() -> None:
    rule = replace(RULE, excluded_titles=("It's",), excluded_namespaces=("Talk",))
    condition = article_condition_sql("title", rule)
    assert "'It''s'" in condition and "'Talk'" in condition
    assert "SPLIT_INDEX(title, ':', 0)" in condition
    assert "substring_index(title, ':', 1)" in article_condition_sql("title", rule, dialect="spark")
    with pytest.raises(ValueError):
        article_condition_sql("title", rule, dialect="oracle")


def test_lists_come_from_the_environment_comma_separated() -> None:
    rule = load_settings({"WIKITRENDS_ARTICLES_EXCLUDED_NAMESPACES": "Talk, User"}).articles
    assert rule.excluded_namespaces == ("Talk", "User")
    assert is_article("Special:Search", rule)
