package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

/**
 * The window operator's hourly counts and each wiki's minutes, from single views as PageRequests gives
 * them, on Flink's operator test harness: sums, event times, one row per article and hour across a
 * snapshot and restore.
 */
class WindowOperatorTotalsTest {
    private static final long MINUTE = 60_000L;
    private static final long HOUR = 60 * MINUTE;
    private static final long T = 1_772_431_200_000L; // 2026-03-02T06:00:00Z
    private static final ObjectMapper JSON = new ObjectMapper();

    private static KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> harness()
            throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new WindowOperator(10 * MINUTE, MINUTE, 10, new CandidateHours(6, 60 * MINUTE, 20), HOUR, 4),
                new SlidingWindowCounts.ByArticle(),
                Types.TUPLE(Types.STRING, Types.STRING));
    }

    /** One view at a second of a minute: desktop when the minute is even, mobile when it is a multiple of 3. */
    private static StreamRecord<Row> view(String project, String title, int minute) {
        long ts = T + minute * MINUTE + 17_000;
        long desktop = minute % 2 == 0 ? 1 : 0;
        long mobile = desktop == 0 && minute % 3 == 0 ? 1 : 0;
        return new StreamRecord<>(Row.of(project, title, T + minute * MINUTE, 1L, desktop, mobile), ts);
    }

    /**
     * Early: two views a minute in 06:00-06:05 only (its minutes have long left the recent ones at
     * 07:00); Late: one a minute in 06:55-06:59; Both: one a minute from 06:00 to 07:09; de.wikipedia's
     * page one in every third minute.
     */
    private static void feed(KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> h, int from, int to)
            throws Exception {
        for (int minute = from; minute < to; minute++) {
            if (minute < 6) {
                h.processElement(view("en.wikipedia", "Early", minute));
                h.processElement(view("en.wikipedia", "Early", minute));
            }
            if (minute >= 55 && minute < 60) {
                h.processElement(view("en.wikipedia", "Late", minute));
            }
            if (minute < 70) {
                h.processElement(view("en.wikipedia", "Both", minute));
            }
            if (minute % 3 == 0) {
                h.processElement(view("de.wikipedia", "Übersicht", minute));
            }
        }
    }

    /** The side output's rows as text, "field field ... @ event-time minutes after T", sorted. */
    private static List<String> rows(
            KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> h, OutputTag<Row> tag) {
        List<String> rows = new ArrayList<>();
        var records = h.getSideOutput(tag);
        if (records == null) {
            return rows;
        }
        for (StreamRecord<Row> record : records) {
            StringBuilder text = new StringBuilder();
            Row row = record.getValue();
            for (int i = 0; i < row.getArity(); i++) {
                Object field = row.getField(i);
                text.append(field instanceof Long && (Long) field >= T ? "+" + ((Long) field - T) / MINUTE : field).append(' ');
            }
            rows.add(text.append("@ ").append((record.getTimestamp() + 1 - T) / MINUTE).toString());
        }
        records.clear();
        rows.sort(null);
        return rows;
    }

    /**
     * The hourly counts written so far, one text per article, "project title +hour-start views desktop
     * mobile @ event-time", read back from their blocks as JSON (at most 4 blocks an hour).
     */
    private static List<String> hours(KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> h)
            throws Exception {
        List<String> hours = new ArrayList<>();
        var records = h.getSideOutput(SlidingWindowCounts.HOURLY_COUNTS);
        if (records == null) {
            return hours;
        }
        for (StreamRecord<Row> record : records) {
            Row block = record.getValue();
            assertTrue((Integer) block.getField(1) < 4, "a block number under the blocks asked for");
            for (JsonNode line : JSON.readTree("[" + block.getField(2) + "]")) {
                hours.add(
                        line.get(0).asText() + " " + line.get(1).asText() + " +" + ((Long) block.getField(0) - T) / MINUTE
                                + " " + line.get(2) + " " + line.get(3) + " " + line.get(4)
                                + " @ " + (record.getTimestamp() + 1 - T) / MINUTE);
            }
        }
        records.clear();
        hours.sort(null);
        return hours;
    }

    @Test
    void eachArticlesHourIsWrittenOnceWhenTheWatermarkPassesIt() throws Exception {
        try (var h = harness()) {
            h.open();
            feed(h, 0, 70);
            h.processWatermark(new Watermark(T + HOUR - 2));
            assertEquals(List.of(), hours(h), "the hour is not over yet");
            h.processWatermark(new Watermark(T + HOUR - 1));
            // Early: 12 views, 6 desktop (minutes 0, 2, 4), 2 mobile (3); Both: minutes 0-59, 30 even,
            // 10 odd multiples of 3; Late: minutes 55-59, 56 and 58 desktop, 57 mobile.
            assertEquals(
                    List.of(
                            "de.wikipedia Übersicht +0 20 10 10 @ 60",
                            "en.wikipedia Both +0 60 30 10 @ 60",
                            "en.wikipedia Early +0 12 6 2 @ 60",
                            "en.wikipedia Late +0 5 2 1 @ 60"),
                    hours(h));
            h.processWatermark(new Watermark(T + 3 * HOUR));
            assertEquals(
                    List.of("de.wikipedia Übersicht +60 4 2 2 @ 120", "en.wikipedia Both +60 10 5 2 @ 120"),
                    hours(h));
        }
    }

    @Test
    void aRestoredOperatorWritesEachHourOnce() throws Exception {
        List<String> straight;
        try (var h = harness()) {
            h.open();
            feed(h, 0, 70);
            h.processWatermark(new Watermark(T + 3 * HOUR));
            straight = hours(h);
        }
        List<String> resumed;
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            feed(h, 0, 58);
            h.processWatermark(new Watermark(T + 57 * MINUTE - 1));
            resumed = new ArrayList<>(hours(h));
            snapshot = h.snapshot(1L, T + 57 * MINUTE);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            feed(h, 58, 70);
            h.processWatermark(new Watermark(T + 3 * HOUR));
            resumed.addAll(hours(h));
        }
        resumed.sort(null);
        assertEquals(straight, resumed);
    }

    @Test
    void eachWikisMinuteIsTheSumOfItsArticlesViews() throws Exception {
        try (var h = harness()) {
            h.open();
            feed(h, 0, 4);
            h.processWatermark(new Watermark(T + 4 * MINUTE - 1));
            // Minute 0: Early twice and Both, all desktop; de once. Minute 3: Early twice, Both, de, all mobile.
            assertEquals(
                    List.of(
                            "de.wikipedia +0 1 1 0 @ 1",
                            "de.wikipedia +3 1 0 1 @ 4",
                            "en.wikipedia +0 3 3 0 @ 1",
                            "en.wikipedia +1 3 0 0 @ 2",
                            "en.wikipedia +2 3 3 0 @ 3",
                            "en.wikipedia +3 3 0 3 @ 4"),
                    rows(h, SlidingWindowCounts.SITE_MINUTES));
        }
    }

    @Test
    void anHoursBlocksGiveBackEveryTitleWhateverItHolds() throws Exception {
        try (var h = harness()) {
            h.open();
            String tricky = "A,\"quoted\"\\ [line]\n\u0001 Ärger 😀";
            h.processElement(view("en.wikipedia", tricky, 5));
            h.processElement(view("en.wikipedia", "Plain", 5));
            h.processWatermark(new Watermark(T + HOUR));
            assertEquals(
                    List.of("en.wikipedia " + tricky + " +0 1 0 0 @ 60", "en.wikipedia Plain +0 1 0 0 @ 60"),
                    hours(h));
        }
    }
}
