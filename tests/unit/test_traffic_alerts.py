"""TRAFFIC_SPIKE: a watched article's rise on the trending list raises one alert, with its numbers."""

from __future__ import annotations

from core.edit_rules import TRAFFIC_SPIKE, WatchList
from core.snapshots import AnomalousArticle, AnomalySnapshot, TrendingArticle, TrendingSnapshot
from core.traffic_alerts import (
    Rise,
    anomaly_traffic_alerts,
    listed_again,
    spike_of,
    traffic_alerts_of_lists,
)
from core.windows import MINUTE_MS
from tests.api_contract import check_alert_record

MINUTE = 1_772_438_400_000  # 2026-03-02 08:00 UTC
WATCHED = WatchList({"Artificial intelligence": ["Artificial_intelligence", "Machine intelligence"]})


def article(title: str, rank: int = 1, project: str = "en.wikipedia") -> TrendingArticle:
    return TrendingArticle(rank, project, title, [5, 6, 8, 20, 30, 45], [0] * 6, 9.5, [5.0] * 6, 3.2, 9.5)


def lists(titles_by_minute: dict[int, list[str]]) -> list[TrendingSnapshot]:
    return [
        TrendingSnapshot(MINUTE + m * MINUTE_MS, 0, 20, [article(t, r) for r, t in enumerate(titles, 1)])
        for m, titles in titles_by_minute.items()
    ]


def test_a_rise_continues_through_short_breaks_and_ends_after_a_quiet_hour() -> None:
    rise = listed_again(None, MINUTE, quiet_minutes=60)
    assert rise == Rise(MINUTE, MINUTE)
    rise = listed_again(rise, MINUTE + 59 * MINUTE_MS, 60)
    assert rise.first_minute == MINUTE and rise.last_minute == MINUTE + 59 * MINUTE_MS
    assert listed_again(rise, MINUTE + 58 * MINUTE_MS, 60).last_minute == rise.last_minute  # out of order
    assert listed_again(rise, MINUTE + 119 * MINUTE_MS, 60).first_minute == MINUTE + 119 * MINUTE_MS


def test_a_watched_rise_raises_one_alert_an_unwatched_none() -> None:
    minutes = {m: ["Machine_intelligence", "Article_7"] for m in range(0, 30)}
    alerts = traffic_alerts_of_lists(lists(minutes), WATCHED, quiet_minutes=60)
    assert [(a.alert_type, a.entity, a.title) for a in alerts] == [
        (TRAFFIC_SPIKE, "Artificial intelligence", "Machine_intelligence")
    ]
    (alert,) = alerts
    assert alert.timestamp_ms == MINUTE and alert.wiki == "enwiki" and alert.user is None
    assert alert.views["rank"] == 1 and alert.views["counts"] == [5, 6, 8, 20, 30, 45]
    assert "rank 1" in alert.alert_reason and "×3.2" in alert.alert_reason
    check_alert_record(alert.to_json())


def test_back_on_the_list_after_a_quiet_hour_is_a_new_rise_and_a_new_alert() -> None:
    minutes = {
        0: ["Artificial_intelligence"],
        10: ["Artificial_intelligence"],
        75: ["Artificial_intelligence"],
    }
    alerts = traffic_alerts_of_lists(lists(minutes), WATCHED, quiet_minutes=60)
    assert [a.timestamp_ms for a in alerts] == [MINUTE, MINUTE + 75 * MINUTE_MS]
    assert len({a.alert_id for a in alerts}) == 2


def test_the_same_rise_replayed_gives_the_same_alert_id() -> None:
    first = traffic_alerts_of_lists(lists({0: ["Machine_intelligence"]}), WATCHED, 60)
    again = traffic_alerts_of_lists(lists({0: ["Machine_intelligence"]}), WATCHED, 60)
    assert (
        first[0].alert_id
        == again[0].alert_id
        == f"{TRAFFIC_SPIKE}:trending:enwiki:{MINUTE}:Machine_intelligence"
    )


def test_a_title_watched_during_its_rise_is_alerted_then_once() -> None:
    rise, alert = spike_of(None, article("Taylor_Swift"), MINUTE, WATCHED, 60)
    assert alert is None
    now_watched = WatchList({"Taylor Swift": ["Taylor_Swift"]})
    rise, alert = spike_of(rise, article("Taylor_Swift"), MINUTE + MINUTE_MS, now_watched, 60)
    assert alert is not None and alert.timestamp_ms == MINUTE and alert.views["minute"] == MINUTE + MINUTE_MS
    assert spike_of(rise, article("Taylor_Swift"), MINUTE + 2 * MINUTE_MS, now_watched, 60)[1] is None


def test_the_same_title_on_two_wikis_rises_apart() -> None:
    snapshot = TrendingSnapshot(
        MINUTE, 0, 20, [article("Machine_intelligence"), article("Machine_intelligence", 2, "de.wikipedia")]
    )
    alerts = traffic_alerts_of_lists([snapshot], WATCHED, 60)
    assert sorted(a.wiki for a in alerts) == ["dewiki", "enwiki"]


def anomaly_list(hour: int, titles: list[str]) -> AnomalySnapshot:
    articles = [
        AnomalousArticle(rank, "en.wikipedia", title, 2.0, [1.0, 90.0], [1.0, 2.0], 0.4, 9.0, 9.0, 6.0)
        for rank, title in enumerate(titles, 1)
    ]
    return AnomalySnapshot("2026-03-02", hour, MINUTE + hour * 3_600_000, 0, 6.0, 100, articles)


def test_a_watched_article_new_on_an_hours_anomaly_list_raises_one_alert() -> None:
    snapshot = anomaly_list(9, ["Machine_intelligence", "Article_3"])
    (alert,) = anomaly_traffic_alerts(snapshot, {("en.wikipedia", "Article_3"): 1}, WATCHED)
    assert alert.title == "Machine_intelligence" and alert.timestamp_ms == snapshot.hour_start
    assert alert.views["source"] == "anomalies" and alert.views["score"] == 9.0
    assert alert.alert_id.startswith(f"{TRAFFIC_SPIKE}:anomalies:enwiki:")
    check_alert_record(alert.to_json())
    # Listed the hour before too: the same run of hours, no alert; no list before: new.
    assert anomaly_traffic_alerts(snapshot, {("en.wikipedia", "Machine_intelligence"): 2}, WATCHED) == []
    assert len(anomaly_traffic_alerts(snapshot, None, WATCHED)) == 1
