"""Bot detection: per-account edit features and the Bloom filters of known bot accounts (issue 10).

Pure logic; batch/bots.py trains the classifier on these features with Spark MLlib, and the edit job
(streaming/edits/operators.py) marks edits with the filters it loads.

- ``account_features``: what an account's edits look like (rate, regularity of the gaps between edits,
  comment repetition, namespaces, its name), the classifier's input.
- ``BloomFilter``: a set of account names in a fixed number of bits, with a false-positive rate
  chosen when it is built and no false negatives.
- ``BotLists``: the two filters the edit job reads, *listed* (accounts seen with the bot flag) and
  *detected* (unflagged accounts the classifier found), so that an edit says which one made it a
  bot's. One filter of both could not tell them apart.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import math
import re
import statistics
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

# How an edit came to be a bot's (Edit.bot_reason).
FLAGGED = "flagged"  # the event carries the account's bot flag
LISTED = "listed"  # the account is in the list of accounts seen with the flag
DETECTED = "detected"  # the classifier found the unflagged account editing like a bot

# "bot" not followed by a letter: ExampleBot_3, InternetArchiveBot, Citation bot, AnomieBOT; not
# Abbott, Robotics or Botany.
_NAMED_BOT = re.compile(r"bot(?![a-z])", re.IGNORECASE)
# Two consecutive gaps between edits are "alike" when they differ by at most this share of the longer
# one plus a second (event times are whole seconds): a timer's gaps are alike, a person's seldom.
ALIKE_GAP_SHARE = 0.1
ALIKE_GAP_SLACK_SECONDS = 1.0
# Shares measured on few edits say little (three edits of a person can have alike gaps and one comment):
# regularity and repetition are counted as if this many more pairs had shown nothing, so that they
# approach the true share only as the edits add up.
PRIOR_PAIRS = 4


@dataclass(frozen=True)
class AccountEdit:
    """What the features need of one edit."""

    timestamp_ms: int
    namespace: int
    comment: str


@dataclass(frozen=True)
class AccountFeatures:
    """One account's edits, as the classifier sees them (FEATURE_NAMES, in this order)."""

    edits: int  # not a feature: it grows with the training window; the detector only requires a minimum
    edits_per_hour: float  # 3600 / the median gap between its edits (so bursts count); 0 for one edit
    interval_regularity: float  # the share of consecutive gaps that are alike: ~1 for a timer (shrunk)
    comment_repetition: float  # how often its most common comment comes again (shrunk)
    namespaces: int  # distinct namespaces touched
    non_article_share: float  # the share of its edits outside the main (article) namespace
    named_bot: float  # 1 when the name says bot (enwiki requires it of approved bots)
    anonymous: float  # 1 for an IP address (no account, so never a bot account)


FEATURE_NAMES = tuple(name for name in AccountFeatures.__dataclass_fields__ if name != "edits")


def is_named_bot(user: str) -> bool:
    """True when the account's name says it is a bot."""
    return bool(_NAMED_BOT.search(user))


def is_anonymous(user: str) -> bool:
    """True for an edit without an account (the user is an IP address)."""
    try:
        ipaddress.ip_address(user)
    except ValueError:
        return False
    return True


def fold_of(user: str, folds: int) -> int:
    """The cross-validation fold of an account (0 .. folds−1), by a hash of its name: the same in every
    run and process."""
    return zlib.crc32(user.encode()) % folds


def account_features(user: str, edits: Sequence[AccountEdit]) -> AccountFeatures:
    """The features of one account from its edits (any order)."""
    if not edits:
        raise ValueError(f"{user!r} has no edits to describe")
    times = sorted(edit.timestamp_ms for edit in edits)
    gaps = [max((b - a) / 1000, 1.0) for a, b in zip(times, times[1:], strict=False)]
    rate = 3600 / statistics.median(gaps) if gaps else 0.0
    pairs = list(zip(gaps, gaps[1:], strict=False))
    alike = sum(abs(a - b) <= ALIKE_GAP_SHARE * max(a, b) + ALIKE_GAP_SLACK_SECONDS for a, b in pairs)
    comments = Counter(edit.comment for edit in edits)
    repetition = (comments.most_common(1)[0][1] - 1) / (len(edits) - 1 + PRIOR_PAIRS)
    namespaces = Counter(edit.namespace for edit in edits)
    return AccountFeatures(
        edits=len(edits),
        edits_per_hour=rate,
        interval_regularity=alike / (len(pairs) + PRIOR_PAIRS),
        comment_repetition=repetition,
        namespaces=len(namespaces),
        non_article_share=1 - namespaces.get(0, 0) / len(edits),
        named_bot=float(is_named_bot(user)),
        anonymous=float(is_anonymous(user)),
    )


@dataclass(frozen=True)
class DetectionScore:
    """Precision and recall of bot predictions against labels."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        bots = self.true_positives + self.false_negatives
        return self.true_positives / bots if bots else 1.0

    def to_json(self) -> dict:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


def detection_score(pairs: Iterable[tuple[bool, bool]]) -> DetectionScore:
    """Score (is a bot, predicted a bot) pairs."""
    counts = Counter((bool(actual), bool(predicted)) for actual, predicted in pairs)
    return DetectionScore(counts[True, True], counts[False, True], counts[True, False], counts[False, False])


MIN_BITS = 64


class BloomFilter:
    """A set of strings in ``bit_count`` bits with ``hash_count`` hashes: "maybe in" or "surely not".

    Sized for ``capacity`` items at ``false_positive_rate`` (the usual optimum: m = −n·ln p / ln²2
    bits, k = m/n·ln 2 hashes, at least MIN_BITS); each of the k positions is 64 bits of a BLAKE2b
    digest, independent of the others (double hashing repeats positions when m is small), and the
    same in every process and Python version.
    """

    def __init__(self, bit_count: int, hash_count: int, bits: bytearray | None = None, items: int = 0):
        if bit_count < 8 or hash_count < 1:
            raise ValueError("a Bloom filter needs at least 8 bits and one hash")
        self.bit_count, self.hash_count, self.items = bit_count, hash_count, items
        self.bits = bits if bits is not None else bytearray((bit_count + 7) // 8)
        if len(self.bits) != (bit_count + 7) // 8:
            raise ValueError(f"{len(self.bits)} bytes do not hold {bit_count} bits")

    @classmethod
    def for_capacity(cls, capacity: int, false_positive_rate: float) -> BloomFilter:
        """An empty filter for ``capacity`` items at ``false_positive_rate`` once full."""
        if not 0 < false_positive_rate < 1:
            raise ValueError("the false-positive rate must be between 0 and 1")
        capacity = max(capacity, 1)
        bit_count = max(MIN_BITS, math.ceil(-capacity * math.log(false_positive_rate) / math.log(2) ** 2))
        # No more hashes than the rate needs (a filter of a few items gets MIN_BITS, not more hashes).
        hashes = min(round(bit_count / capacity * math.log(2)), math.ceil(-math.log2(false_positive_rate)))
        return cls(bit_count, max(1, hashes))

    @classmethod
    def of(cls, items: Iterable[str], false_positive_rate: float) -> BloomFilter:
        """A filter holding ``items``, sized for them."""
        items = sorted(set(items))
        bloom = cls.for_capacity(len(items), false_positive_rate)
        for item in items:
            bloom.add(item)
        return bloom

    def _positions(self, item: str) -> list[int]:
        data, values, salt = item.encode(), [], 0
        while len(values) < self.hash_count:
            digest = hashlib.blake2b(data, digest_size=64, salt=salt.to_bytes(16, "little")).digest()
            values += [int.from_bytes(digest[at : at + 8], "little") for at in range(0, 64, 8)]
            salt += 1
        return [value % self.bit_count for value in values[: self.hash_count]]

    def add(self, item: str) -> None:
        for position in self._positions(item):
            self.bits[position >> 3] |= 1 << (position & 7)
        self.items += 1

    def __contains__(self, item: str) -> bool:
        return all(self.bits[position >> 3] & (1 << (position & 7)) for position in self._positions(item))

    def expected_false_positive_rate(self) -> float:
        """The chance that a string never added is "maybe in", at the current fill."""
        return (1 - math.exp(-self.hash_count * self.items / self.bit_count)) ** self.hash_count

    def to_json(self) -> dict:
        return {
            "bit_count": self.bit_count,
            "hash_count": self.hash_count,
            "items": self.items,
            "false_positive_rate": self.expected_false_positive_rate(),
            "bits": base64.b64encode(bytes(self.bits)).decode(),
        }

    @classmethod
    def from_json(cls, document: dict) -> BloomFilter:
        return cls(
            int(document["bit_count"]),
            int(document["hash_count"]),
            bytearray(base64.b64decode(document["bits"])),
            int(document.get("items", 0)),
        )


@dataclass(frozen=True)
class BotLists:
    """The filters the edit job marks bots with: accounts seen with the flag, and ones detected."""

    listed: BloomFilter
    detected: BloomFilter
    version: str  # the training run that built them

    def source_of(self, user: str, flagged: bool) -> str | None:
        """How an edit by ``user`` is a bot's (FLAGGED, LISTED, DETECTED), or None for a person's."""
        if flagged:
            return FLAGGED
        if user in self.listed:
            return LISTED
        if user in self.detected:
            return DETECTED
        return None

    def to_json(self) -> dict:
        return {"version": self.version, "listed": self.listed.to_json(), "detected": self.detected.to_json()}

    @classmethod
    def from_json(cls, document: dict) -> BotLists:
        return cls(
            BloomFilter.from_json(document["listed"]),
            BloomFilter.from_json(document["detected"]),
            str(document["version"]),
        )


def grown_lists(
    previous_listed: Iterable[str],
    previous_detected: Iterable[str],
    flagged_now: Iterable[str],
    detected_now: Iterable[str],
) -> tuple[list[str], list[str]]:
    """The account lists after a training run: they only grow, run after run, and an account found by
    the classifier moves to *listed* once it is seen with the flag."""
    listed = set(previous_listed) | set(flagged_now)
    detected = (set(previous_detected) | set(detected_now)) - listed
    return sorted(listed), sorted(detected)
