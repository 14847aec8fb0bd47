"""The page-request contract: encoding, the fast template, validation."""

from __future__ import annotations

import json

import pytest

from core.events import (
    PAGE_REQUEST_ACCESS_TEMPLATE,
    PAGE_REQUEST_TEMPLATE,
    encode_page_request,
    normalize_title,
)
from producer.world import TOP_TITLES
from tests.oracle import MalformedEvent, parse_page_request

NOW = 1_767_225_600_000  # 2026-01-01


def test_encoding_is_compact_utf8_json_with_the_contract_fields() -> None:
    raw = encode_page_request(NOW, "en.wikipedia", "Albert_Einstein")
    assert raw == b'{"ts":1767225600000,"project":"en.wikipedia","title":"Albert_Einstein"}'
    assert json.loads(raw) == {"ts": NOW, "project": "en.wikipedia", "title": "Albert_Einstein"}


@pytest.mark.parametrize("title", [*TOP_TITLES, "Article_5999999"])
def test_the_fast_template_gives_the_same_bytes_as_json(title: str) -> None:
    fast = PAGE_REQUEST_TEMPLATE % (NOW, b"en.wikipedia", title.encode())
    assert fast == encode_page_request(NOW, "en.wikipedia", title)
    with_access = PAGE_REQUEST_ACCESS_TEMPLATE % (NOW, b"en.wikipedia", title.encode(), b"mobile-app")
    assert with_access == encode_page_request(NOW, "en.wikipedia", title, "mobile-app")


def test_titles_needing_escapes_round_trip() -> None:
    title = 'Quote_"x"_and_\\_back'
    assert parse_page_request(encode_page_request(NOW, "en.wikipedia", title), NOW).title == title


def test_extra_fields_are_allowed() -> None:
    raw = b'{"ts":1767225600000,"project":"en.wikipedia","title":"X","agent":"user"}'
    assert parse_page_request(raw, NOW).title == "X"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"project":"en.wikipedia","title":"X"}', "ts must be"),
        (b'{"ts":"1767225600000","project":"en.wikipedia","title":"X"}', "ts must be"),
        (b'{"ts":true,"project":"en.wikipedia","title":"X"}', "ts must be"),
        (b'{"ts":1767225600,"project":"en.wikipedia","title":"X"}', "outside"),  # seconds, not ms
        (b'{"ts":99999999999999,"project":"en.wikipedia","title":"X"}', "outside"),
        (b'{"ts":1767225600000,"project":"","title":"X"}', "project"),
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"  "}', "title"),
        (b'{"ts":1767226000000,"project":"en.wikipedia","title":"X"}', "outside"),  # 6 min ahead
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"' + b"x" * 256 + b'"}', "longer than 255"),
        (b'{"ts":1767225600000,"project":"' + b"p" * 65 + b'","title":"X"}', "project longer"),
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"Tab\\tin"}', "control characters"),
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"Caf\\ufffd"}', "not UTF-8"),
        # A lone surrogate escape decodes to a character no UTF-8 can encode.
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"Half\\ud800"}', "not UTF-8"),
        (b'{"ts":1767225600000,"project":"en.wikipedia","title":"\\udfffHalf"}', "not UTF-8"),
    ],
)
def test_malformed_events_name_their_fault(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        parse_page_request(raw, NOW)


def test_a_pair_of_surrogate_escapes_is_one_character_and_valid() -> None:
    raw = b'{"ts":1767225600000,"project":"en.wikipedia","title":"Smile_\\ud83d\\ude00"}'
    assert parse_page_request(raw, NOW).title == "Smile_\U0001f600"


def test_normalize_title() -> None:
    assert normalize_title(" Albert Einstein ") == "Albert_Einstein"
