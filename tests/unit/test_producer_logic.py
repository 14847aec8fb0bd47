"""Pure parts of the producers: chunk encoding, dump spreading, SSE and recentchange parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.events import encode_page_request, project_of_server
from producer.live import page_request_from_change
from producer.replay import spread_over_hour
from producer.synthetic import _TitleBytes, encode_chunk
from producer.world import Catalogue

HOUR = 1_767_261_600_000


def test_encoded_chunks_are_contract_events_keyed_by_title() -> None:
    catalogue = Catalogue(100)
    keys, values = encode_chunk(
        np.array([0, 10, 42]),
        np.array([HOUR, HOUR + 1, HOUR + 2]),
        np.array([0, 1, 2], dtype=np.uint8),
        b"en.wikipedia",
        _TitleBytes(catalogue),
    )
    assert keys == [b"Main_Page", "東京".encode(), b"Article_42"]
    assert values[1] == encode_page_request(HOUR + 1, "en.wikipedia", "東京", "mobile-web")
    assert [json.loads(v)["access"] for v in values] == ["desktop", "mobile-web", "mobile-app"]


def test_spreading_keeps_every_view_inside_its_hour_in_order() -> None:
    pages, timestamps = spread_over_hour([3, 0, 5], HOUR, seed=1)
    assert np.bincount(pages, minlength=3).tolist() == [3, 0, 5]
    assert timestamps.min() >= HOUR and timestamps.max() < HOUR + 3_600_000
    assert np.all(np.diff(timestamps) >= 0)
    again = spread_over_hour([3, 0, 5], HOUR, seed=1)
    assert np.array_equal(timestamps, again[1])


def test_a_recentchange_becomes_a_page_request() -> None:
    change = {
        "title": "EFL Championship",
        "server_name": "en.wikipedia.org",
        "timestamp": 1690617099,
        "namespace": 0,
    }
    request = page_request_from_change(change, frozenset({0}))
    assert (request.ts, request.project, request.title) == (1690617099000, "en.wikipedia", "EFL_Championship")
    assert page_request_from_change({**change, "namespace": 2}, frozenset({0})) is None
    assert page_request_from_change({**change, "namespace": 2}, frozenset()) is not None


@pytest.mark.parametrize(
    "change",
    [
        [],
        {"title": "X"},
        {"title": "X", "server_name": "en.wikipedia.org"},
        {"title": "X", "server_name": "a", "timestamp": "yesterday"},
    ],
)
def test_malformed_changes_raise(change) -> None:
    with pytest.raises(ValueError):
        page_request_from_change(json.loads(json.dumps(change)), frozenset())


def test_server_names_map_to_projects() -> None:
    assert project_of_server("en.wikipedia.org") == "en.wikipedia"
    assert project_of_server("en.m.wikipedia.org") == "en.wikipedia"
    assert project_of_server("commons.wikimedia.org") == "commons.wikimedia"
