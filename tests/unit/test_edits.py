"""Edit activity: recentchange parsing, entity matching and the alert rules at their edges."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from core.edit_events import Edit, MalformedEditEvent, is_revert, normalise_title, parse_recentchange
from core.edit_rules import EditWars, RapidEdits, WatchList, is_large_edit
from tests.api_contract import check_alert_record
from tests.data import SHARED_DATA

ENWIKI_SAMPLE = SHARED_DATA / "recentchange-enwiki-2023-07-29.ndjson"
ALL_WIKIS_SAMPLE = SHARED_DATA / "recentchange-all-wikis-2026-09-17-500.ndjson"
EDIT = Edit("enwiki", "en.wikipedia", "Academy_Awards", 0, "Alice", False, 1_000_000, "", 10, 1, False)


def test_every_real_edit_is_parsed_with_its_size_change_and_event_time() -> None:
    lines = ENWIKI_SAMPLE.read_text(encoding="utf-8").splitlines()
    edits = [parse_recentchange(line) for line in lines]
    assert len(edits) == 100 and all(edits)
    first = edits[0]
    assert (first.wiki, first.title, first.user) == ("enwiki", "EFL_Championship", "87.12.215.232")
    assert first.size_change == 91166 - 91108 and first.revision_id == 1167689309
    assert first.timestamp_ms == 1690617099 * 1000 and not first.is_bot
    assert sum(e.is_bot for e in edits) == 2
    assert sum(e.is_revert for e in edits) == 1  # ClueBot NG's "Reverting possible vandalism"


@pytest.mark.parametrize(
    ("time_fields", "expected_ms"),
    [  # the same cases as streaming/jvm's EditTimesTest: the watermarks and the rules agree on time
        ({"meta": {"dt": "2026-03-02T06:00:00Z"}, "timestamp": 1}, 1_772_431_200_000),
        ({"meta": {"dt": "2026-03-02T07:00:00.250+01:00"}}, 1_772_431_200_250),
        ({"meta": {"dt": "2026-03-02T06:00:00"}}, 1_772_431_200_000),  # no offset: UTC
        ({"meta": {}, "timestamp": 1772431200}, 1_772_431_200_000),
        ({"timestamp": 1772431200.5}, 1_772_431_200_500),
    ],
)
def test_event_time_is_meta_dt_else_the_unix_timestamp(time_fields: dict, expected_ms: int) -> None:
    event = {"type": "edit", "wiki": "enwiki", "title": "A", "user": "B", "namespace": 0, **time_fields}
    assert parse_recentchange(event).timestamp_ms == expected_ms


def test_other_event_types_are_not_edits_and_broken_ones_say_why() -> None:
    events = [json.loads(line) for line in ALL_WIKIS_SAMPLE.read_text(encoding="utf-8").splitlines()]
    parsed = [parse_recentchange(event) for event in events]
    assert sum(p is not None for p in parsed) == sum(e["type"] in ("edit", "new") for e in events) == 225
    for bad, reason in [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"title": "A"}', "no type"),
        ('{"type": "edit", "wiki": "enwiki", "user": "A", "namespace": 0}', "title"),
        (
            '{"type": "edit", "wiki": "w", "title": "A", "user": "B", "namespace": 0, "meta": {"dt": "x"}}',
            "not a time",
        ),
    ]:
        with pytest.raises(MalformedEditEvent, match=reason):
            parse_recentchange(bad)


def test_titles_are_normalised_as_mediawiki_stores_them() -> None:
    assert normalise_title("academy  Awards ") == "Academy_Awards"
    assert normalise_title("_Oscars_") == "Oscars"
    assert normalise_title("éclair") == "Éclair"


def test_entities_match_their_variants_and_never_a_substring() -> None:
    watch = WatchList({"Academy Awards": ["Academy_Award", "Oscars"], "Oscar Wilde": []})
    assert watch.entity_of("Academy Award") == "Academy Awards"
    assert watch.entity_of("oscars") == "Academy Awards"  # first letter case as MediaWiki folds it
    assert watch.entity_of("Academy_Awards") == "Academy Awards"
    assert watch.entity_of("Oscar_Wilde") == "Oscar Wilde"
    assert watch.entity_of("Oscar") is None and watch.entity_of("Academy_Awards_ceremony") is None
    assert watch.entity_of("OSCARS") is None  # only the first letter's case is folded


@pytest.mark.parametrize(("change", "alerted"), [(500, False), (501, True), (-500, False), (-501, True)])
def test_large_edit_is_more_than_500_bytes_either_way(change: int, alerted: bool) -> None:
    assert is_large_edit(replace(EDIT, size_change=change), 500) is alerted


@pytest.mark.parametrize(("third_after_ms", "alerted"), [(59_900, True), (60_000, True), (60_100, False)])
def test_three_edits_within_60_seconds_of_event_time(third_after_ms: int, alerted: bool) -> None:
    rapid = RapidEdits(count=3, span_ms=60_000)
    assert rapid.add("Academy Awards", 0) is None
    assert rapid.add("Academy Awards", 30_000) is None
    assert (rapid.add("Academy Awards", third_after_ms) is not None) is alerted


def test_rapid_edits_arriving_out_of_order_alert_once_per_burst() -> None:
    rapid = RapidEdits(count=3, span_ms=60_000)
    assert rapid.add("A", 50_000) is None
    assert rapid.add("A", 65_000) is None
    assert rapid.add("A", 10_000) == (10_000, 65_000)  # the late one completes the burst
    assert rapid.add("A", 105_000) is None  # the same burst goes on
    assert rapid.add("B", 20_000) is None  # other entities count apart
    for t in (900_000, 910_000, 920_000):  # a burst much later is a new one
        result = rapid.add("A", t)
    assert result == (900_000, 920_000)


def test_reverts_are_told_by_tags_or_comments() -> None:
    assert is_revert("Undid revision 123 by [[Special:Contributions/X|X]]")
    assert is_revert("Reverted edits by X (talk) to last version by Y")
    assert is_revert("", ["mw-rollback"])
    assert not is_revert("Fixed a revert-related typo") and not is_revert("")


def test_an_edit_war_is_three_reverts_by_two_users_within_the_hour_alerted_once() -> None:
    wars = EditWars(reverts=3, users=2, window_ms=3_600_000)
    revert = replace(EDIT, is_revert=True)
    assert not wars.add(replace(revert, user="Alice", timestamp_ms=0))
    assert not wars.add(replace(revert, user="Alice", timestamp_ms=60_000))
    assert not wars.add(replace(EDIT, user="Bob", timestamp_ms=90_000))  # not a revert
    assert wars.add(replace(revert, user="Bob", timestamp_ms=120_000))
    assert not wars.add(replace(revert, user="Alice", timestamp_ms=180_000))  # the same war

    lone = EditWars()
    for minute in range(5):  # one user reverting vandals is not a war
        assert not lone.add(replace(revert, user="Patroller", timestamp_ms=minute * 60_000))
    spread = EditWars()
    for hour, user in enumerate(["Alice", "Bob", "Alice"]):  # more than an hour apart
        assert not spread.add(replace(revert, user=user, timestamp_ms=hour * 3_700_000))


# --- the alert rules together, the synthetic stream's ground truth, activity and the API's checks ---

from core.config import load_settings  # noqa: E402
from core.edit_activity import activity_record, edit_activity, edit_event, entity_metrics  # noqa: E402
from core.edit_rules import (  # noqa: E402
    BOT_EDIT,
    EDIT_WAR,
    LARGE_EDIT,
    RAPID_EDIT,
    AlertThresholds,
    EntityAlerts,
    alerts_of_stream,
)
from producer.edit_world import EditWorld, encode_event  # noqa: E402
from producer.world import Catalogue  # noqa: E402
from web.edits import AlertQuery, authorised, parse_alert_query, parse_alert_type, parse_variants  # noqa: E402
from web.views import BadParameter  # noqa: E402


def test_the_project_comes_from_the_server_name_so_edits_meet_page_requests() -> None:
    first = parse_recentchange(ENWIKI_SAMPLE.read_text(encoding="utf-8").splitlines()[0])
    assert (first.wiki, first.project) == ("enwiki", "en.wikipedia")


def test_one_watched_edit_can_set_off_several_alerts_in_a_fixed_order() -> None:
    rules = EntityAlerts(AlertThresholds())
    big_bot_edit = replace(EDIT, size_change=-501, is_bot=True)
    assert [a.alert_type for a in rules.add(big_bot_edit, "Academy Awards")] == [LARGE_EDIT, BOT_EDIT]
    assert (
        rules.add(replace(EDIT, size_change=500, timestamp_ms=EDIT.timestamp_ms + 1), "Academy Awards") == []
    )
    third = rules.add(replace(EDIT, timestamp_ms=EDIT.timestamp_ms + 59_000), "Academy Awards")
    assert [a.alert_type for a in third] == [RAPID_EDIT] and "3 edits" in third[0].alert_reason


def test_an_alert_has_a_stable_id_and_the_documented_fields() -> None:
    (alert,) = EntityAlerts(AlertThresholds()).add(replace(EDIT, size_change=900), "Academy Awards")
    document = alert.to_json()
    check_alert_record(document)
    assert document["timestamp"] == "1970-01-01T00:16:40Z" and document["timestamp_ms"] == EDIT.timestamp_ms
    assert document["bot_reason"] is None
    assert document["revision_id"] == 1 and document["alert_reason"].startswith("+900 bytes")
    assert (
        alert.alert_id == EntityAlerts(AlertThresholds()).add(replace(EDIT, size_change=900), "X")[0].alert_id
    )


def test_the_synthetic_edit_stream_sets_off_exactly_its_ground_truth() -> None:
    watchlist = load_settings().edits.watchlist
    world = EditWorld(Catalogue(6_000_000), 7, 1_772_438_400_000, 240, 30.0, watchlist)
    edits = [parse_recentchange(encode_event(event)) for event in world.events()]
    found = alerts_of_stream(edits, WatchList(watchlist), AlertThresholds())
    identity = sorted((a.alert_type, a.entity, a.title, a.revision_id) for a in found)
    assert identity == sorted((a.alert_type, a.entity, a.title, a.revision_id) for a in world.expected_alerts)
    # two periods (at +5 min and +125 min), each one of every kind but LARGE_EDIT, which comes twice
    assert sorted(a[0] for a in identity) == sorted([LARGE_EDIT] * 4 + [RAPID_EDIT, BOT_EDIT, EDIT_WAR] * 2)
    times = [edit.timestamp_ms for edit in edits]
    assert min(times) >= world.start_ms and max(times) < world.start_ms + 240 * 60_000


def test_activity_counts_edits_editors_bytes_bots_and_reverts() -> None:
    edits = [
        replace(EDIT, user="A", size_change=120, timestamp_ms=1),
        replace(EDIT, user="B", size_change=-40, is_revert=True, timestamp_ms=3),
        replace(EDIT, user="A", size_change=5, is_bot=True, timestamp_ms=2),
    ]
    activity = edit_activity((activity_record(e), e.timestamp_ms) for e in edits)
    assert (activity.edits, activity.editors, activity.bytes_added, activity.bytes_removed) == (3, 2, 125, 40)
    assert (activity.bot_edits, activity.reverts, activity.last_edit_ms) == (1, 1, 3)
    metrics = entity_metrics("Academy Awards", ["Oscars"], (edit_event(e, "Academy Awards") for e in edits))
    assert (metrics.edits, metrics.bot_edits, metrics.human_edits, metrics.bytes_changed) == (3, 1, 2, 165)
    assert metrics.distinct_users == 2 and metrics.last_edit["timestamp_ms"] == 3


def test_watch_list_writes_need_the_configured_token() -> None:
    assert authorised("", "Bearer anything")[0] == 403  # no token configured: read-only
    assert authorised("s3cret", None)[0] == 401
    assert authorised("s3cret", "Basic czNjcmV0")[0] == 401
    assert authorised("s3cret", "Bearer s3cre")[0] == 403
    assert authorised("s3cret", "Bearer s3cret") is None


def test_bad_watch_list_bodies_and_alert_types_say_why() -> None:
    assert parse_variants(b'{"variants": [" Oscars ", "Academy_Awards"]}') == ["Oscars", "Academy_Awards"]
    for body, reason in [
        (b"{", "not JSON"),
        (b"[]", "must be"),
        (b'{"variants": []}', "must be"),
        (b'{"variants": [""]}', "non-empty"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_variants(body)
    assert parse_alert_type("edit_war") == EDIT_WAR and parse_alert_type(None) is None
    with pytest.raises(ValueError, match="LARGE_EDIT"):
        parse_alert_type("VANDALISM")


def test_alert_filters_from_a_query_string() -> None:
    def query(**arguments: str) -> AlertQuery:
        return parse_alert_query(arguments.get, max_limit=100)

    assert query() == AlertQuery(entity=None, alert_type=None, wiki=None, limit=20)
    assert query(entity=" Taylor Swift ", type="rapid_edit", wiki="DEWIKI", limit="5") == AlertQuery(
        entity="Taylor Swift", alert_type=RAPID_EDIT, wiki="dewiki", limit=5
    )
    assert query(wiki="zh_min_nanwiki").wiki == "zh_min_nanwiki" and query(wiki=" ").wiki is None
    for arguments, reason in [
        ({"wiki": "en.wikipedia"}, "unknown wiki"),
        ({"wiki": "<b>"}, "unknown wiki"),
        ({"entity": "x" * 256}, "entity must be"),
        ({"entity": "tab\there"}, "entity must be"),
        ({"limit": "101"}, "limit must be"),
        ({"type": "VANDALISM"}, "unknown alert type"),
    ]:
        with pytest.raises(BadParameter, match=reason):
            query(**arguments)
