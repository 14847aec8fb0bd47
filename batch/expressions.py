"""Spark column expressions for the batch jobs: dump and clickstream parsing, the anomaly arithmetic.

Each expression is the column form of a pure rule in ``core`` (core.dumps,
core.anomalies), built from the same constants, so the jobs run in the JVM
without Python UDFs. The integration tests hold each one to its rule.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from core.anomalies import NOISE_FLOOR, POISSON_SPREAD, hour_column, noise_column
from core.clickstream import (
    CURRENT_FIELDS,
    HEADERS,
    LEGACY_FIELDS,
    LINE_TYPES,
    SOURCE_OF_REFERRER,
    SOURCE_PREFIX,
)
from core.dumps import ACCESS_MARKERS, PROJECT_SUFFIXES, WIKIMEDIA_SITES

# The examples of malformed lines parse_clickstream_lines keeps in its tally.
MALFORMED_EXAMPLES = ("first_example", "least_example", "greatest_example")
# Columns of a parsed dump line; ``problem`` is null for a good line.
PARSED_COLUMNS = ["project", "title", "views", "problem"]


def _in(column: Column, values: frozenset[str] | set[str]) -> Column:
    return column.isin(sorted(values))


def parse_dump_line(line: Column) -> list[Column]:
    """``domain_code page_title count_views total_response_size`` -> project, title, views, problem.

    The same rules as core.dumps.parse_dump_line, project_of and decode_title:
    four space-separated fields, whole-number counts, a known domain code, a
    percent-encoded title decoded to UTF-8 with underscores for spaces.
    """
    fields = F.split(line, " ")
    domain_code, raw_title, views, size = (fields.getItem(i) for i in range(4))
    parts = F.split(F.lower(domain_code), r"\.")
    language = parts.getItem(0)
    rest = F.filter(F.slice(parts, 2, 100), lambda part: ~_in(part, ACCESS_MARKERS))
    wikimedia_site = _in(language, WIKIMEDIA_SITES) & (parts.getItem(1) == "m")
    families = F.create_map(*[F.lit(x) for pair in PROJECT_SUFFIXES.items() for x in pair])
    family = families[F.coalesce(rest.getItem(0), F.lit(""))]
    project = F.when(wikimedia_site, F.concat(language, F.lit(".wikimedia"))).otherwise(
        F.when(F.size(rest) <= 1, F.concat(language, F.lit("."), family))
    )
    # As urllib's unquote: a '%' not followed by two hex digits stays a '%'; '+' is a plus sign,
    # not the space url_decode would make of it.
    escaped = F.regexp_replace(F.regexp_replace(raw_title, r"\+", "%2B"), "%(?![0-9A-Fa-f]{2})", "%25")
    decoded = F.when(raw_title.contains("%"), F.url_decode(escaped))
    title = F.regexp_replace(F.coalesce(decoded, raw_title), " ", "_")
    # Java's decoder turns bytes that are not UTF-8 into U+FFFD where Python's refuses them.
    not_utf8 = F.coalesce(decoded.contains("\ufffd") & ~raw_title.contains("\ufffd"), F.lit(False))
    whole_number = "^[0-9]+$"
    say = F.format_string
    problem = (
        F.when(F.size(fields) != 4, say("expected 4 space-separated fields, got %d", F.size(fields)))
        .when((domain_code == "") | (raw_title == ""), F.lit("empty domain code or title"))
        .when(~views.rlike(whole_number), say("count_views '%s' is not a whole number", views))
        .when(~size.rlike(whole_number), say("total_response_size '%s' is not a whole number", size))
        .when(project.isNull(), say("unknown domain code '%s'", domain_code))
        .when(not_utf8, say("title '%s' has bytes that are not UTF-8", raw_title))
        .when(F.regexp_replace(title, "_", "") == "", say("title '%s' is empty once decoded", raw_title))
    )
    good = problem.isNull()
    return [
        F.when(good, project).alias("project"),
        F.when(good, title).alias("title"),
        F.when(good, views.cast("long")).alias("views"),
        problem.alias("problem"),
    ]


def wide_sum(hour: Column, views: Column, hours: range, divide_by: float = 1.0) -> list[Column]:
    """Aggregates turning (hour, views) rows into one column per hour (``h00`` …), 0 where absent.

    ``divide_by`` turns the sums into averages (over days).
    """
    return [
        (F.coalesce(F.sum(F.when(hour == h, views)), F.lit(0)).cast("double") / F.lit(divide_by)).alias(
            hour_column(h)
        )
        for h in hours
    ]


def canberra_term(x: Column, y: Column) -> Column:
    """One hour's |x - y| / (|x| + |y|) as a column: 0/0 is 0, nulls (missing hours) are 0."""
    x, y = F.coalesce(x, F.lit(0.0)), F.coalesce(y, F.lit(0.0))
    denominator = F.abs(x) + F.abs(y)
    return F.when(denominator == 0, F.lit(0.0)).otherwise(F.abs(x - y) / denominator)


def running_sums(columns: list[Column]) -> list[Column]:
    """Column i is the sum of columns 0..i: per-hour terms -> the distance over hours 0..i."""
    sums, total = [], F.lit(0.0)
    for column in columns:
        total = total + column
        sums.append(total)
    return sums


def day_noise(terms: list[Column]) -> dict[str, Column]:
    """One day's value for each noise column (core.anomalies), from its 24 Canberra terms: per hour the
    term, the distance over hours 0..h, and their squares. The noise columns are means of these."""
    values = {}
    for h, (term, distance) in enumerate(zip(terms, running_sums(terms), strict=True)):
        values[noise_column("term_mean", h)] = term
        values[noise_column("term_square", h)] = term * term
        values[noise_column("distance_mean", h)] = distance
        values[noise_column("distance_square", h)] = distance * distance
    return values


def hour_floor(today: Column, history: Column) -> Column:
    """The smallest sd one hour's term is scored with: NOISE_FLOOR, or the larger count's Poisson spread."""
    views = F.greatest(F.coalesce(today, F.lit(0.0)), F.coalesce(history, F.lit(0.0)), F.lit(1.0))
    return F.greatest(F.lit(NOISE_FLOOR), F.lit(POISSON_SPREAD) / F.sqrt(views))


def poisson_z(today: Column, history: Column) -> Column:
    """Today's views against the average as counting noise: the signed Poisson deviance residual
    (core.anomalies), the average at least one view."""
    x = F.coalesce(today, F.lit(0.0))
    mean = F.greatest(F.coalesce(history, F.lit(0.0)), F.lit(1.0))
    x_log_ratio = F.when(x > 0, x * F.log(x / mean)).otherwise(F.lit(0.0))
    deviance = F.greatest(F.lit(2.0) * (x_log_ratio - (x - mean)), F.lit(0.0))  # >= 0 but for rounding
    return F.when(x < mean, -F.sqrt(deviance)).otherwise(F.sqrt(deviance))


def day_levels(today: list[Column], history: list[Column]) -> list[Column]:
    """Per hour h, the day's level up to h: today's views over the averages' for hours 0..h (1 while
    the averages are all 0)."""
    return [
        F.when(history_total > 0, today_total / history_total).otherwise(F.lit(1.0))
        for today_total, history_total in zip(running_sums(today), running_sums(history), strict=True)
    ]


def level_poisson_zs(today: list[Column], history: list[Column]) -> list[Column]:
    """Per hour h, |poisson z| of today's views against the average scaled to the day's level up to h."""
    return [
        F.abs(poisson_z(x, y * level))
        for x, y, level in zip(today, history, day_levels(today, history), strict=True)
    ]


def hour_poisson_zs(today: list[Column], history: list[Column]) -> list[Column]:
    """Per hour h, the signed poisson z of today's views against the average scaled to the day's level
    before h (up to h-1; 1 at hour 0): the latest hour against the day so far, so a day quieter or
    busier in every hour has no hour out of line while a spike still stands out in full."""
    levels_before = [F.lit(1.0), *day_levels(today, history)[:-1]]
    return [poisson_z(x, y * level) for x, y, level in zip(today, history, levels_before, strict=True)]


def counted(score: Column, poisson_z: Column, min_poisson_z: float) -> Column:
    """A part's score, or at most 0 when its views are within counting noise (|poisson_z| under the bar)."""
    return F.when(F.abs(poisson_z) >= min_poisson_z, score).otherwise(F.least(score, F.lit(0.0)))


def z_score(observed: Column, mean: Column, square_mean: Column, floor: Column) -> Column:
    """(observed - mean) / sd, the sd from the moments but at least ``floor`` (core.anomalies)."""
    sd = F.greatest(F.sqrt(F.greatest(square_mean - mean * mean, F.lit(0.0))), floor)
    return (observed - mean) / sd


def fold_day(average: Column, days: int, views: Column) -> Column:
    """The cumulative moving average after one more day: avg + (x - avg) / (n + 1); nulls are 0."""
    average = F.coalesce(average, F.lit(0.0))
    return average + (F.coalesce(views, F.lit(0.0)) - average) / F.lit(float(days + 1))


def parse_clickstream_lines(lines: DataFrame, tally: Observation) -> DataFrame:
    """Lines (``value``) of either layout -> referrer, article, source, clicks, problem, line.

    The same rules as core.clickstream.parse_clickstream_line and source_of: 4 or 6 tab-separated
    fields, known types, whole-number counts (and page ids in the 2015 layout), non-empty titles.
    ``problem`` is null for a good line; the other columns of a malformed line mean nothing.
    ``tally`` counts, once the lines have been read by an action, ``lines``, ``malformed`` and up to
    three examples of malformed lines (MALFORMED_EXAMPLES; constant memory, however many there are).

    Built in steps, each a projection of the one before, so that the split of the line and each field
    are computed once per line: as one expression, every branch of the rules split the line again
    (Spark does not share work between the branches of a CASE), three times slower. The tally also
    keeps a later filter on ``problem`` from being pushed into the steps (Spark pushes filters through
    projections, not through an observation), which would undo that.
    """
    fields = lines.select(
        F.col("value").alias("line"), F.split(F.regexp_replace("value", "\r$", ""), "\t", -1).alias("fields")
    ).select("line", "fields", F.size("fields").alias("size"))
    legacy = F.col("size") == LEGACY_FIELDS

    def field(current: int, old: int) -> Column:
        return F.when(legacy, F.col("fields").getItem(old)).otherwise(F.col("fields").getItem(current))

    named = fields.select(
        "line",
        "size",
        field(0, 3).alias("referrer"),
        field(1, 4).alias("article"),
        field(2, 5).alias("type"),
        field(3, 2).alias("count"),
        (F.col("fields").getItem(0).rlike("^[0-9]*$") & F.col("fields").getItem(1).rlike("^[0-9]*$")).alias(
            "ids_ok"
        ),
    )
    say = F.format_string
    referrer, article, line_type, count, size = map(F.col, ["referrer", "article", "type", "count", "size"])
    problem = (
        F.when(
            (size != CURRENT_FIELDS) & ~legacy,
            say(f"expected {CURRENT_FIELDS} or {LEGACY_FIELDS} tab-separated fields, got %d", size),
        )
        .when(legacy & ~F.col("ids_ok"), F.lit("page ids are not whole numbers"))
        .when((referrer == "") | (article == ""), F.lit("empty referrer or article title"))
        .when(~_in(line_type, LINE_TYPES), say("unknown type '%s'", line_type))
        .when(~count.rlike("^[0-9]+$"), say("count '%s' is not a whole number", count))
    )
    sources = F.create_map(*[F.lit(x) for pair in SOURCE_OF_REFERRER.items() for x in pair])
    source = F.coalesce(
        sources[referrer], F.when(referrer.startswith(SOURCE_PREFIX), F.lit("other")), F.lit("link")
    )
    parsed = named.select(
        "referrer",
        "article",
        source.alias("source"),
        count.cast("long").alias("clicks"),
        problem.alias("problem"),
        "line",
    )
    example = F.when(
        F.col("problem").isNotNull(), F.concat("problem", F.lit(": "), F.substring("line", 1, 200))
    )
    first, least, greatest = MALFORMED_EXAMPLES
    return parsed.observe(
        tally,
        F.count(F.lit(1)).alias("lines"),
        F.count("problem").alias("malformed"),
        # The first malformed line and the first and last by reason, so that different reasons show.
        F.first(example, ignorenulls=True).alias(first),
        F.min(example).alias(least),
        F.max(example).alias(greatest),
    )


def is_clickstream_header(line: Column) -> Column:
    return _in(F.regexp_replace(line, "\r$", ""), HEADERS)
