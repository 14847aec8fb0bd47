"""The bot detector's lists on S3 (batch/bots.py writes them), as the edit job and the tools read them."""

from __future__ import annotations

import logging
import time

from core.bots import BotLists
from core.config import Settings
from core.contracts import bots_pointer_key
from stores.clients import read_json_object

log = logging.getLogger("stores.bot_lists")


def current_pointer(client, settings: Settings) -> dict | None:
    """``current.json`` of the newest training run, or None before the first one."""
    return read_json_object(client, settings.s3.bucket, bots_pointer_key(settings.s3))


def read_bot_lists(client, settings: Settings, pointer: dict) -> BotLists:
    """The Bloom filters of the run ``pointer`` names."""
    document = read_json_object(client, settings.s3.bucket, pointer["filters_key"])
    if document is None:
        raise FileNotFoundError(f"{pointer['filters_key']} is missing from bucket {settings.s3.bucket}")
    return BotLists.from_json(document)


class BotListsPoller:
    """The newest bot lists, looked for on S3 at most every ``filter_poll_seconds`` ([bots]).

    S3 being down, or a run half written, keeps the lists in hand (none before the first run) and is
    logged once until it recovers: marking bots must never stop the edit job.
    """

    def __init__(self, client, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.lists: BotLists | None = None
        self.next_poll = 0.0
        self.failing = False

    def current(self) -> BotLists | None:
        now = time.monotonic()
        if now < self.next_poll:
            return self.lists
        self.next_poll = now + self.settings.bots.filter_poll_seconds
        try:
            pointer = current_pointer(self.client, self.settings)
            if pointer is not None and (self.lists is None or pointer["version"] != self.lists.version):
                self.lists = read_bot_lists(self.client, self.settings, pointer)
                log.info(
                    "bot lists of run %s loaded: %d listed and %d detected accounts",
                    self.lists.version,
                    pointer.get("listed", self.lists.listed.items),
                    pointer.get("detected", self.lists.detected.items),
                )
            if self.failing:
                log.info(
                    "S3 answers again; bot lists %s", self.lists.version if self.lists else "not yet made"
                )
            self.failing = False
        except Exception as error:  # noqa: BLE001 - any S3 or document failure: keep the lists in hand
            if not self.failing:
                log.warning(
                    "cannot read the bot lists from S3 (%s); keeping %s and trying again every %s s",
                    error,
                    f"run {self.lists.version}" if self.lists else "none",
                    self.settings.bots.filter_poll_seconds,
                )
            self.failing = True
        return self.lists
