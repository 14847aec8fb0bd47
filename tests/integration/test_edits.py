"""The edit job end to end on the real stack (issue 10): Kafka, the Flink job, Redis and the site's API.

One job, its own topics and Redis keys, fed in turn:
1. the recorded real enwiki events (replayed): each article's edit activity in Redis equals a direct
   computation over the same file, and the malformed lines are dead-lettered with their reason;
2. two and a half hours of the seeded synthetic edit stream: every injected large edit, rapid burst,
   bot edit and edit war is alerted exactly once, in the alerts topic, in Redis and through the API,
   and the quiet background sets off nothing;
3. the bot detector (batch/bots.py, spark-submit) trained on what the topic holds then: it finds the
   synthetic stream's unflagged bot, lists the flagged ones, and the running job, polling S3, marks
   later edits of those accounts as bots', saying which list;
4. a watch-list change through the API (with the token) reaches the running job; writes without the
   token, or with a wrong one, are refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from core.bots import DETECTED, LISTED
from core.config import REPO_ROOT, Settings, load_settings
from core.contracts import EditKeys, edit_topics
from core.edit_activity import activity_record, edit_activity
from core.edit_events import parse_recentchange
from core.edit_rules import LARGE_EDIT, AlertThresholds, WatchList, alerts_of_stream
from producer.edit_world import UNFLAGGED_BOT, bot_account, recentchange
from producer.world import parse_time_ms
from stores.bot_lists import current_pointer, read_bot_lists
from stores.clients import kafka_security, list_keys, new_topic, read_json_object, s3_client
from stores.edits import decode_activity
from streaming import flink_jobs
from tests.api_contract import check_alert_record, check_answer
from tests.data import SHARED_DATA
from tests.integration.streaming_run import read_topic, wait_for
from tests.integration.web_site import site_env, start_site, stop

REAL_EDITS = SHARED_DATA / "recentchange-enwiki-2023-07-29.ndjson"
SYNTHETIC_START = "2026-03-02T08:00:00Z"
SYNTHETIC_MINUTES = 150
TOKEN = "test-token-" + uuid.uuid4().hex
MALFORMED = [
    (b"not json at all", "not JSON"),
    (b'{"type": "edit", "title": "No_wiki"}', "missing or bad field"),
]


@dataclass
class EditRun:
    settings: Settings
    env: dict[str, str]
    job_id: str
    url: str
    tmp: Path

    def produce(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "producer", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, document = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, document = error.code, json.loads(error.read())
        check_answer(method, path, status, document)
        return status, document


@pytest.fixture(scope="module")
def edit_run(kafka_bootstrap, redis_client, flink_overview, tmp_path_factory) -> Iterator[EditRun]:
    tag = f"edits{uuid.uuid4().hex[:6]}"
    env = site_env(
        tag,
        WIKITRENDS_EDITS_WATCHLIST_TOKEN=TOKEN,
        WIKITRENDS_EDITS_WATCHLIST_POLL_SECONDS="2",
        WIKITRENDS_BOTS_FILTER_POLL_SECONDS="2",
    )
    settings = load_settings(env)
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    admin.create_topics([new_topic(settings.kafka, topic, 2) for topic in edit_topics(settings.kafka)])
    job_id = flink_jobs.submit(env, "-py", "streaming/edits/job.py", "--job-name", tag)
    url, site = start_site(env)
    try:
        yield EditRun(settings, env, job_id, url, tmp_path_factory.mktemp("edits"))
    finally:
        stop(site)
        flink_jobs.cancel(settings, job_id, discard_checkpoints=True)
        admin.delete_topics(edit_topics(settings.kafka))
        admin.close()
        for key in redis_client.scan_iter(f"{settings.redis.key_prefix}:*"):
            redis_client.delete(key)
        client = s3_client(settings)
        for key in list_keys(client, settings.s3.bucket, settings.s3.bots_prefix + "/"):
            client.delete_object(Bucket=settings.s3.bucket, Key=key)


def test_replayed_real_edits_give_the_activity_a_direct_count_gives(edit_run: EditRun, redis_client) -> None:
    keys = EditKeys(edit_run.settings.redis)
    lines = REAL_EDITS.read_text(encoding="utf-8").splitlines()
    edits = [edit for edit in map(parse_recentchange, lines) if edit is not None]
    by_article = defaultdict(list)
    for edit in edits:
        by_article[(edit.project, edit.title)].append((activity_record(edit), edit.timestamp_ms))
    bad = edit_run.tmp / "malformed.ndjson"
    bad.write_bytes(b"\n".join(raw for raw, _ in MALFORMED) + b"\n")
    edit_run.produce("edits-replay", str(REAL_EDITS), str(bad))

    newest = max(edit.timestamp_ms for edit in edits)
    wait_for(
        lambda: redis_client.zscore(keys.clock, "newest") == newest, "the replay's last edit in Redis", 300
    )

    def stored_activity():
        return {
            article: decode_activity(redis_client.zrange(keys.article(*article), 0, -1, withscores=True))
            for article in by_article
        }

    expected = {article: edit_activity(records) for article, records in by_article.items()}
    wait_for(lambda: stored_activity() == expected, "every replayed edit's article activity in Redis", 300)
    assert sum(activity.edits for activity in stored_activity().values()) == len(edits) == 100
    assert sum(activity.bot_edits for activity in expected.values()) == 2

    def dead_letters() -> list[dict]:
        topic = edit_run.settings.kafka.edits_dead_letter_topic
        return [json.loads(record.value) for record in read_topic(edit_run.settings.kafka.bootstrap, topic)]

    # Committed with the job's next checkpoint (exactly-once).
    wait_for(lambda: len(dead_letters()) >= len(MALFORMED), "the malformed events' dead letters", 300)
    dead = dead_letters()
    assert sorted(d["payload"] for d in dead) == sorted(raw.decode() for raw, _ in MALFORMED)
    for letter in dead:
        reason = dict((raw.decode(), why) for raw, why in MALFORMED)[letter["payload"]]
        assert reason in letter["reason"]


def alert_identity(alert: dict) -> tuple:
    return (alert["alert_type"], alert["entity"], alert["title"], alert["revision_id"])


def test_every_injected_alert_is_raised_once_and_the_background_raises_none(
    edit_run: EditRun, redis_client
) -> None:
    truth_path = edit_run.tmp / "truth.json"
    edit_run.produce(
        "edits-synthetic",
        *("--start", SYNTHETIC_START, "--duration", f"{SYNTHETIC_MINUTES}m", "--speedup", "0"),
        *("--ground-truth", str(truth_path)),
    )
    truth = json.loads(truth_path.read_text())
    expected = sorted(alert_identity(alert) for alert in truth["expected_alerts"])
    # The real replay's own alerts (if its edits set off any) come first; they are computed the same way.
    settings = edit_run.settings
    real = [e for e in map(parse_recentchange, REAL_EDITS.read_text(encoding="utf-8").splitlines()) if e]
    expected_real = [
        alert_identity(a.to_json())
        for a in alerts_of_stream(
            real, WatchList(settings.edits.watchlist), AlertThresholds.of(settings.edits)
        )
    ]
    assert len(expected) == 10 and {a[0] for a in expected} == {
        "LARGE_EDIT",
        "RAPID_EDIT",
        "BOT_EDIT",
        "EDIT_WAR",
    }
    everything = sorted(expected + expected_real)

    keys = EditKeys(settings.redis)

    def in_redis() -> list:
        return sorted(alert_identity(json.loads(m)) for m in redis_client.zrange(keys.alerts, 0, -1))

    wait_for(lambda: len(in_redis()) >= len(everything), f"{len(everything)} alerts in Redis", 300)
    assert in_redis() == everything

    def alerts_in_kafka() -> list[dict]:
        topic = settings.kafka.edit_alerts_topic
        return [json.loads(record.value) for record in read_topic(settings.kafka.bootstrap, topic)]

    # Visible to a read-committed consumer once the job's next checkpoint commits them (exactly-once).
    wait_for(lambda: len(alerts_in_kafka()) >= len(everything), "the alerts in the alerts topic", 300)
    in_kafka = alerts_in_kafka()
    assert sorted(alert_identity(a) for a in in_kafka) == everything  # exactly once: no duplicates
    for alert in in_kafka:
        check_alert_record(alert)  # the documented fields, as a consumer of the topic reads them
        assert alert["alert_reason"] and alert["wiki"] == "enwiki" and isinstance(alert["is_bot"], bool)

    status, body = edit_run.request("GET", "/api/alerts?type=edit_war&limit=100")
    assert status == 200 and sorted(alert_identity(a) for a in body["alerts"]) == [
        a for a in everything if a[0] == "EDIT_WAR"
    ]
    timestamps = [a["timestamp_ms"] for a in body["alerts"]]
    assert timestamps == sorted(timestamps, reverse=True)
    entity = next(a[1] for a in expected if a[0] == "RAPID_EDIT")
    status, body = edit_run.request("GET", f"/api/alerts?entity={urllib.request.quote(entity)}&limit=100")
    assert status == 200 and {a["entity"] for a in body["alerts"]} == {entity}
    assert edit_run.request("GET", "/api/alerts?type=NOT_A_TYPE")[0] == 400
    assert edit_run.request("GET", "/api/alerts?limit=0")[0] == 400

    status, body = edit_run.request("GET", "/api/entities")
    metrics = {e["entity"]: e for e in body["entities"]}
    assert status == 200 and set(metrics) == set(settings.edits.watchlist)
    # Two bursts of four edits, each by three accounts of its own.
    assert metrics[entity]["edits"] == 4 * 2 and metrics[entity]["distinct_users"] == 2 * 3


def test_the_bot_detector_finds_the_unflagged_bot_and_the_running_job_marks_listed_bots(
    edit_run: EditRun, redis_client
) -> None:
    settings = edit_run.settings
    done = subprocess.run(
        [str(REPO_ROOT / "deploy" / "local" / "spark-submit"), "batch/bots.py"],
        cwd=REPO_ROOT,
        env=edit_run.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    assert "cross-validated: precision" in log and "skipped 2 malformed event(s)" in log

    client = s3_client(settings)
    pointer = current_pointer(client, settings)
    accounts = read_json_object(client, settings.s3.bucket, pointer["accounts_key"])
    truth = json.loads((edit_run.tmp / "truth.json").read_text())
    # Everything the topic held: the real replay's 100 edits and the synthetic stream's events.
    assert accounts["report"]["edits"] == 100 + truth["events"] and accounts["report"]["malformed"] == 2
    detected = [entry["user"] for entry in accounts["detected"]]
    assert detected == [UNFLAGGED_BOT]  # the unflagged bot, and no person
    assert {"InternetArchiveBot", bot_account(0), bot_account(3)} <= set(accounts["listed"])
    lists = read_bot_lists(client, settings, pointer)
    assert UNFLAGGED_BOT in lists.detected and bot_account(3) in lists.listed

    # Later edits without the flag, on a watched entity, by a person, the detected bot and a listed bot:
    # the job (polling S3 every 2 s here) marks the bots' edits, and each sets off a BOT_EDIT.
    entity = list(settings.edits.watchlist)[-1]
    keys = EditKeys(settings.redis)
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap)
    editors = ("Editor_Later", UNFLAGGED_BOT, bot_account(3))
    base_ms = parse_time_ms(SYNTHETIC_START) + (SYNTHETIC_MINUTES + 60) * 60_000

    def send_round() -> None:
        # Two minutes apart in event time, so that no three make a RAPID_EDIT burst.
        send_round.count += 1
        for k, user in enumerate(editors):
            at_ms = base_ms + (send_round.count * len(editors) + k) * 120_000
            event = recentchange(entity, user, False, at_ms, 10, "tidy", 8_888_000_000 + at_ms // 1000)
            producer.send(settings.kafka.edits_topic, json.dumps(event).encode(), key=entity.encode())
        producer.flush()

    def stored() -> dict[str, set]:
        sources = defaultdict(set)
        for member in redis_client.zrange(keys.entity(entity), 0, -1):
            event = json.loads(member)
            if event["user"] in editors:
                sources[event["user"]].add(event["bot_reason"])
        return sources

    send_round.count = 0
    send_round()
    wait_for(
        lambda: DETECTED in stored()[UNFLAGGED_BOT] and LISTED in stored()[bot_account(3)],
        "edits of the detected and the listed bot marked by the running job",
        300,
        between=send_round,
    )
    assert stored()["Editor_Later"] == {None}
    bot_alerts = [
        json.loads(m)
        for m in redis_client.zrange(keys.entity_alerts(entity), 0, -1)
        if json.loads(m)["alert_type"] == "BOT_EDIT"
    ]
    assert {(a["user"], a["bot_reason"]) for a in bot_alerts if a["user"] in editors} >= {
        (UNFLAGGED_BOT, DETECTED),
        (bot_account(3), LISTED),
    }
    assert not [a for a in bot_alerts if a["user"] == "Editor_Later"]


def test_a_watch_list_change_through_the_api_reaches_the_running_job(edit_run: EditRun, redis_client) -> None:
    entity, title = "Synthetic test entity", "Article_123457"
    body = {"variants": [title, "Synthetic test redirect"]}
    assert edit_run.request("PUT", f"/api/watchlist/{urllib.request.quote(entity)}", body)[0] == 401
    assert (
        edit_run.request("PUT", f"/api/watchlist/{urllib.request.quote(entity)}", body, token="wrong")[0]
        == 403
    )
    assert edit_run.request("DELETE", "/api/watchlist/Taylor%20Swift", token="wrong")[0] == 403
    status, answer = edit_run.request(
        "PUT", f"/api/watchlist/{urllib.request.quote(entity)}", body, token=TOKEN
    )
    assert status == 200 and answer["replaced"] is False
    status, listed = edit_run.request("GET", "/api/watchlist")
    assert listed["entities"][entity] == body["variants"] and "Taylor Swift" in listed["entities"]

    # The job polls the list every 2 s here; then a large edit of the new entity's title is alerted.
    when = parse_time_ms(SYNTHETIC_START) + SYNTHETIC_MINUTES * 60_000 + 5 * 60_000
    keys = EditKeys(edit_run.settings.redis)
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=edit_run.settings.kafka.bootstrap)

    def alerted() -> bool:
        return any(
            json.loads(m)["entity"] == entity for m in redis_client.zrange(keys.entity_alerts(entity), 0, -1)
        )

    def send_again() -> None:
        # Until the job has seen the change (a few seconds), the edit is not a watched one: send it again
        # with a new revision each time; the first one the job matches sets off the alert.
        # Two minutes apart in event time, so that the resent edits never make a RAPID_EDIT burst.
        send_again.count += 1
        again = recentchange(
            "Synthetic test redirect",
            "Editor_New",
            False,
            when + send_again.count * 120_000,
            900,
            "big news",
            9_999_999_999 + send_again.count,
        )
        producer.send(edit_run.settings.kafka.edits_topic, json.dumps(again).encode())
        producer.flush()

    send_again.count = 0
    send_again()
    wait_for(alerted, "a LARGE_EDIT alert for the entity added through the API", 300, between=send_again)
    alerts = [json.loads(m) for m in redis_client.zrange(keys.entity_alerts(entity), 0, -1)]
    assert {a["alert_type"] for a in alerts} == {LARGE_EDIT}
    producer.close()
