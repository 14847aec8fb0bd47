"""Bot detection's pure logic: account features, the Bloom filter, the lists and the synthetic bots."""

from __future__ import annotations

from collections import defaultdict

import pytest

from core import bots
from core.bots import AccountEdit, BloomFilter, BotLists, account_features
from core.edit_events import event_line, marked_bot, parse_recentchange
from core.edit_rules import BOT_EDIT, AlertThresholds, EntityAlerts
from producer.edit_world import UNFLAGGED_BOT, EditWorld, recentchange
from producer.world import Catalogue

START_MS = 1_772_438_400_000
WATCHLIST = {name: () for name in ("Academy Awards", "Taylor Swift", "Albert Einstein", "Moon")}


def timer_edits(count: int, every_s: float, comment: str = "Bot: fixing links") -> list[AccountEdit]:
    return [AccountEdit(START_MS + int(k * every_s * 1000), 0, comment) for k in range(count)]


def test_a_timer_is_regular_and_fast_a_person_is_neither() -> None:
    timer = account_features("LinkFixer_3", timer_edits(20, 6))
    # 19 gaps make 18 pairs, all alike; 19 edits repeat the first one's comment; both shrunk by the prior.
    assert timer.interval_regularity == 18 / (18 + bots.PRIOR_PAIRS) and timer.edits_per_hour == 600
    assert timer.comment_repetition == 19 / (19 + bots.PRIOR_PAIRS) and timer.edits == 20
    longer = account_features("LinkFixer_3", timer_edits(200, 6))
    assert longer.interval_regularity > 0.98 and longer.comment_repetition > 0.98
    gaps_s = [5, 900, 40, 3_000, 300, 7, 1_200]  # a person's: no two alike
    times = [START_MS + 1000 * sum(gaps_s[:k]) for k in range(len(gaps_s) + 1)]
    person = account_features(
        "Editor_1", [AccountEdit(t, 0, c) for t, c in zip(times, "abcdefgh", strict=True)]
    )
    assert person.interval_regularity == 0.0 and person.comment_repetition == 0.0
    assert person.edits_per_hour == 3600 / 300  # the median gap


def test_gaps_alike_within_ten_percent_and_a_second() -> None:
    # Gaps 100 s, 110 s (alike: 10 <= 0.1 * 110 + 1), then 131 s (not: 21 > 14.1): one pair of two.
    times = [0, 100, 210, 341]
    features = account_features("X", [AccountEdit(START_MS + t * 1000, 0, "") for t in times])
    assert features.interval_regularity == 1 / (2 + bots.PRIOR_PAIRS)


def test_one_edit_says_nothing_about_timing_and_names_and_namespaces_count() -> None:
    one = account_features("127.0.0.1", [AccountEdit(START_MS, 4, "x")])
    assert (one.edits_per_hour, one.interval_regularity, one.comment_repetition) == (0.0, 0.0, 0.0)
    assert one.anonymous == 1.0 and one.non_article_share == 1.0 and one.namespaces == 1
    mixed = [AccountEdit(START_MS + k, ns, "") for k, ns in enumerate([0, 0, 10, 14])]
    assert account_features("Yapperbot", mixed).non_article_share == 0.5
    assert account_features("Yapperbot", mixed).namespaces == 3
    with pytest.raises(ValueError):
        account_features("Nobody", [])


@pytest.mark.parametrize(
    ("user", "named"),
    [
        ("ExampleBot_3", True),
        ("InternetArchiveBot", True),
        ("Citation bot", True),
        ("AnomieBOT", True),
        ("Abbott", False),
        ("Robotics_fan", False),
        ("Botany_student", False),
    ],
)
def test_a_name_says_bot_only_when_bot_ends_a_word(user: str, named: bool) -> None:
    assert bots.is_named_bot(user) is named


def test_accounts_fall_in_fixed_folds_of_about_equal_size() -> None:
    users = [f"Editor_{k}" for k in range(10_000)]
    folds = [bots.fold_of(u, 5) for u in users]
    assert all(1_800 < folds.count(f) < 2_200 for f in range(5)) and folds == [
        bots.fold_of(u, 5) for u in users
    ]


def test_the_bloom_filter_has_no_false_negatives_and_about_its_false_positive_rate() -> None:
    members = [f"Bot_{k}" for k in range(2_000)]
    bloom = BloomFilter.of(members, 0.01)
    assert all(member in bloom for member in members)
    strangers = [f"Editor_{k}" for k in range(20_000)]
    false_positives = sum(stranger in bloom for stranger in strangers) / len(strangers)
    assert false_positives < 0.02 and bloom.expected_false_positive_rate() == pytest.approx(0.01, rel=0.1)
    again = BloomFilter.from_json(bloom.to_json())
    assert all(member in again for member in members) and again.bits == bloom.bits


def test_the_lists_say_how_an_edit_is_a_bots_and_only_grow() -> None:
    lists = BotLists(BloomFilter.of(["ExampleBot_1"], 1e-4), BloomFilter.of(["Quiet_script"], 1e-4), "v1")
    assert lists.source_of("Editor_9", flagged=True) == bots.FLAGGED
    assert lists.source_of("ExampleBot_1", flagged=False) == bots.LISTED
    assert lists.source_of("Quiet_script", flagged=False) == bots.DETECTED
    assert lists.source_of("Editor_9", flagged=False) is None
    listed, detected = bots.grown_lists(["A"], ["B", "C"], ["C", "D"], ["E"])
    assert listed == ["A", "C", "D"] and detected == ["B", "E"]  # C was found, then seen with the flag


def test_an_edit_marked_by_the_lists_sets_off_bot_edit_with_its_source() -> None:
    event = recentchange("Moon", "Quiet_script", False, START_MS, 10, "tidy", 5)
    edit = parse_recentchange(event)
    assert not edit.is_bot and edit.bot_reason is None
    marked = marked_bot(edit, bots.DETECTED)
    assert marked.is_bot and marked.bot_reason == bots.DETECTED
    (alert,) = EntityAlerts(AlertThresholds()).add(marked, "Moon")
    assert alert.alert_type == BOT_EDIT and "bot detector" in alert.alert_reason
    assert alert.to_json()["bot_reason"] == bots.DETECTED
    flagged = parse_recentchange({**event, "bot": True})
    assert flagged.bot_reason == bots.FLAGGED and marked_bot(flagged, bots.LISTED) == flagged


def test_synthetic_bots_edit_on_timers_and_people_do_not() -> None:
    world = EditWorld(Catalogue(100_000), 3, START_MS, 240, 30.0, WATCHLIST)
    edits, flagged = defaultdict(list), defaultdict(bool)
    for event in world.events():
        edits[event["user"]].append(
            AccountEdit(event["timestamp"] * 1000, event["namespace"], event["comment"])
        )
        flagged[event["user"]] |= event["bot"]
    features = {user: account_features(user, found) for user, found in edits.items()}
    background_bots = [u for u in features if u.startswith(("ExampleBot_", "LinkFixer_"))]
    assert len(background_bots) == 20 and all(flagged[u] for u in background_bots)
    assert any(not bots.is_named_bot(u) for u in background_bots)
    busy_bots = [features[u] for u in background_bots if features[u].edits > 20]
    people = [features[u] for u in features if u.startswith("Editor_") and features[u].edits > 5]
    assert busy_bots and people
    for feature in ("interval_regularity", "comment_repetition"):
        most_of_people = max(getattr(f, feature) for f in people)
        assert min(getattr(f, feature) for f in busy_bots) > most_of_people
        assert getattr(features[UNFLAGGED_BOT], feature) > most_of_people
    assert not flagged[UNFLAGGED_BOT]


def test_recorded_lines_give_their_event_json_and_skip_other_sse_lines() -> None:
    assert event_line('data: {"type": "edit"}\n') == '{"type": "edit"}'
    assert event_line('{"type": "edit"}\n') == '{"type": "edit"}'
    assert [event_line(line) for line in (":ok", "event: message", "id: [1]", "retry: 5", "  \n")] == [
        None
    ] * 5
