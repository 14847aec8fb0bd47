"""The batch jobs' Spark expressions give what Python gives: dump lines as core.dumps parses them,
distances and averages as tests/oracle.py computes them.

Real lines from ../shared/data/real, plus crafted ones (percent-encoding, plus
signs, mobile and wikimedia domain codes, every kind of malformed line), run
through batch.expressions.parse_dump_line on a local Spark.
"""

from __future__ import annotations

import random

import pytest

from core.dumps import MalformedLine, decode_title, parse_dump_line, project_of
from tests.data import SHARED_DATA
from tests.oracle import canberra_distance, fold_day

CRAFTED = [
    "en Caf%C3%A9_(film) 4 0",
    "en C%2B%2B 2 0",
    "en A+B 1 0",
    "en.m Mobile_page 7 0",
    "commons.m File:Some.jpg 3 0",
    "de.b Ein_Buch 1 0",
    "ja 東京 9 0",
    "en Broken_count abc 0",
    "en Too few",
    "xx.zz Unknown_project 4 0",
    "en %ZZbad 1 0",
    "en 100%_sure 1 0",
    "en Bad%FFbyte 1 0",
    "en ___ 1 0",
    " Missing_domain 1 0",
]


def expected(line: str) -> tuple | None:
    """What core.dumps makes of a line: (project, title, views), or None for a malformed one."""
    try:
        parsed = parse_dump_line(line)
        return project_of(parsed.domain_code), decode_title(parsed.title), parsed.views
    except MalformedLine:
        return None


def test_spark_parses_dump_lines_as_core_does(spark) -> None:
    from pyspark.sql import functions as F

    from batch.expressions import parse_dump_line as spark_parse

    lines = CRAFTED + [
        line.rstrip("\n")
        for path in sorted(SHARED_DATA.glob("pagecounts-raw-sample-*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    frame = spark.createDataFrame([(i, line) for i, line in enumerate(lines)], "i int, value string")
    rows = frame.select("i", *spark_parse(F.col("value"))).orderBy("i").collect()
    assert len(rows) == len(lines) > 1000
    mismatches = []
    for row, line in zip(rows, lines, strict=True):
        got = None if row.problem else (row.project, row.title, row.views)
        if got != expected(line):
            mismatches.append((line, got, expected(line), row.problem))
    assert mismatches == []
    problems = {line: row.problem for row, line in zip(rows, lines, strict=True) if row.problem}
    assert "is not a whole number" in problems["en Broken_count abc 0"]
    assert "expected 4 space-separated fields" in problems["en Too few"]
    assert "unknown domain code" in problems["xx.zz Unknown_project 4 0"]
    assert "not UTF-8" in problems["en Bad%FFbyte 1 0"]


def test_spark_expressions_equal_the_oracle(spark) -> None:
    """The Canberra distance (the terms summed as the anomaly job sums them) and the day fold as Spark
    columns give what tests/oracle.py gives."""
    from pyspark.sql import functions as F

    from batch.expressions import canberra_term, running_sums
    from batch.expressions import fold_day as spark_fold

    rng = random.Random(14)

    def hours() -> list[float | None]:
        # zeros (0/0 terms), small and large counts, and missing hours (nulls, which count 0)
        choices = [None, 0.0, 0.0, 1.0, rng.uniform(0, 50), rng.uniform(0, 5000)]
        return [rng.choice(choices) for _ in range(24)]

    pairs = [(hours(), hours()) for _ in range(400)] + [([0.0] * 24, [None] * 24), ([3.0] * 24, [None] * 24)]
    today, history = [f"t{h:02d}" for h in range(24)], [f"a{h:02d}" for h in range(24)]
    frame = spark.createDataFrame(
        [(i, *x, *y) for i, (x, y) in enumerate(pairs)],
        ", ".join(["i int"] + [f"{c} double" for c in today + history]),
    )
    rows = (
        frame.select(
            "i",
            running_sums([canberra_term(F.col(t), F.col(a)) for t, a in zip(today, history, strict=True)])[
                -1
            ].alias("distance"),
            spark_fold(F.col("a05"), 6, F.col("t05")).alias("folded"),
        )
        .orderBy("i")
        .collect()
    )

    def zero(values: list[float | None]) -> list[float]:
        return [v or 0.0 for v in values]

    assert len(rows) == len(pairs)
    for row, (x, y) in zip(rows, pairs, strict=True):
        assert row.distance == pytest.approx(canberra_distance(zero(x), zero(y)), rel=1e-12, abs=1e-12)
        assert row.folded == pytest.approx(fold_day(y[5] or 0.0, 6, x[5] or 0.0), rel=1e-12, abs=1e-12)
