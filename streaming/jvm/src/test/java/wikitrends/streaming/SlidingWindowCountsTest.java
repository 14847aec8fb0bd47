package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

/** The sliding-window operator on Flink's operator test harness: sums, topics, event times, restore. */
class SlidingWindowCountsTest {
    private static final long MINUTE = 60_000L;
    private static final long WINDOW = 10 * MINUTE;
    private static final long T = 1_772_431_200_000L; // 2026-03-02T06:00:00Z, a minute ending in 0

    // An hour of six windows and the hour before it, as core/trending.py reads them; candidates from 20 views.
    private static final CandidateHours HOUR =
            new CandidateHours(6, 60 * MINUTE, 20);

    private static KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> harness()
            throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new WindowOperator(WINDOW, MINUTE, 10, HOUR, 60 * MINUTE, 4),
                new SlidingWindowCounts.ByArticle(),
                Types.TUPLE(Types.STRING, Types.STRING));
    }

    /** A minute count as the job's minute windows emit it: its event time is the minute's last ms. */
    private static StreamRecord<Row> minuteCount(String title, int minute, long views) {
        return minuteCount(title, minute, views, 0, 0);
    }

    /** ... with its views of known access: desktop and mobile (the rest unknown). */
    private static StreamRecord<Row> minuteCount(String title, int minute, long views, long desktop, long mobile) {
        return new StreamRecord<>(
                Row.of("en.wikipedia", title, T + minute * MINUTE, views, desktop, mobile),
                T + (minute + 1) * MINUTE - 1);
    }

    /** The window rows written so far, as "title start-minute digit views @ event-time-minute-end". */
    private static List<String> windowRows(
            KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> harness) {
        List<String> rows = new ArrayList<>();
        for (Object element : harness.getOutput()) {
            if (element instanceof StreamRecord) {
                StreamRecord<?> record = (StreamRecord<?>) element;
                Row row = (Row) record.getValue();
                long start = (Long) row.getField(2);
                long end = (Long) row.getField(3);
                assertEquals(start + WINDOW, end, "a window is ten minutes");
                assertEquals(end - 1, record.getTimestamp(), "a window row's event time is its last ms");
                rows.add(
                        row.getField(1)
                                + " "
                                + (start - T) / MINUTE
                                + " "
                                + row.getField(4)
                                + " "
                                + row.getField(5));
            }
        }
        harness.getOutput().clear();
        return rows;
    }

    @Test
    void eachWindowSumsItsTenMinutesAndGoesToTheTopicOfItsStartMinute() throws Exception {
        try (var h = harness()) {
            h.open();
            h.processElement(minuteCount("Moon", 0, 3));
            h.processElement(minuteCount("Moon", 4, 5));
            h.processElement(minuteCount("Sun", 4, 7));
            h.processWatermark(new Watermark(T + MINUTE - 1)); // minute 0 is over: the window ending at 1
            // Windows start at -9 (the first to cover minute 0); digit = start minute mod 10.
            assertEquals(List.of("Moon -9 1 3"), windowRows(h));
            h.processWatermark(new Watermark(T + 5 * MINUTE - 1)); // windows ending at 2, 3, 4, 5
            assertEquals(
                    List.of("Moon -5 5 8", "Moon -6 4 3", "Moon -7 3 3", "Moon -8 2 3", "Sun -5 5 7"),
                    sorted(windowRows(h)));
            // Minute 0 leaves the windows that start at 1; minute 4, those that start at 5.
            h.processWatermark(new Watermark(T + 14 * MINUTE - 1));
            List<String> rows = sorted(windowRows(h));
            // Ends 6-14: Moon 8 while minute 0 is in the window (ends 6-10), then 5; Sun 7 throughout.
            assertEquals(18, rows.size());
            assertTrue(rows.containsAll(List.of("Moon 0 0 8", "Moon 1 1 5", "Sun 4 4 7")), rows::toString);
            assertFalse(rows.stream().anyMatch(r -> r.contains(" 5 5 ")), "no window starts at minute 5");
            // Nothing is left to write; the articles' older minutes stay while a candidate's hour reaches them.
            assertEquals(2, h.numKeyedStateEntries());
            // Two hours on, the sweep (every ten minutes of windows) drops them; Star's minute stays.
            h.processElement(minuteCount("Star", 200, 1));
            h.processWatermark(new Watermark(T + 210 * MINUTE - 1));
            assertEquals(10, windowRows(h).size());
            assertEquals(1, h.numKeyedStateEntries());
        }
    }

    @Test
    void aRestoredOperatorNeitherRepeatsNorSkipsAWindow() throws Exception {
        List<String> straight;
        try (var h = harness()) {
            h.open();
            feed(h);
            h.processWatermark(new Watermark(T + 30 * MINUTE));
            straight = sorted(windowRows(h));
        }
        List<String> resumed;
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            feed(h);
            h.processWatermark(new Watermark(T + 7 * MINUTE - 1));
            resumed = new ArrayList<>(windowRows(h));
            snapshot = h.snapshot(1L, T + 7 * MINUTE);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            h.processWatermark(new Watermark(T + 30 * MINUTE));
            resumed.addAll(windowRows(h));
        }
        assertEquals(straight, sorted(resumed));
    }

    private static void feed(KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> h)
            throws Exception {
        for (int minute = 0; minute < 12; minute++) {
            h.processElement(minuteCount("Moon", minute, minute + 1));
            if (minute % 3 == 0) {
                h.processElement(minuteCount("Tōkyō \"Tower\"", minute, 2));
            }
        }
    }

    private static List<String> sorted(List<String> rows) {
        List<String> copy = new ArrayList<>(rows);
        copy.sort(null);
        return copy;
    }

    @Test
    void minutePairsGrowSumAndDrop() {
        long[] pairs = MinutePairs.add(null, 0, 1, 1, 0);
        for (int minute = 1; minute < 5; minute++) {
            pairs = MinutePairs.add(pairs, minute * MINUTE, minute + 1, 1, minute);
        }
        pairs = MinutePairs.add(pairs, 2 * MINUTE, 10, 3, 4); // the same minute again
        assertEquals(1 + 2 + 13 + 4 + 5, MinutePairs.sum(pairs, 0, 5 * MINUTE));
        assertEquals(1 + 1 + 4 + 1 + 1, MinutePairs.sum(pairs, 0, 5 * MINUTE, MinutePairs.DESKTOP));
        assertEquals(0 + 1 + 6 + 3 + 4, MinutePairs.sum(pairs, 0, 5 * MINUTE, MinutePairs.MOBILE));
        assertEquals(13 + 4, MinutePairs.sum(pairs, 2 * MINUTE, 4 * MINUTE));
        assertEquals(3, MinutePairs.dropBefore(pairs, 2 * MINUTE));
        assertEquals(13 + 4 + 5, MinutePairs.sum(pairs, 0, 5 * MINUTE));
        assertTrue(MinutePairs.anyBefore(pairs, 3 * MINUTE));
        assertFalse(MinutePairs.anyBefore(pairs, 2 * MINUTE));
        long[] older = MinutePairs.addBefore(null, pairs, 4 * MINUTE);
        assertEquals(13 + 4, MinutePairs.sum(older, 0, 10 * MINUTE));
        assertEquals(6 + 3, MinutePairs.sum(older, 0, 10 * MINUTE, MinutePairs.MOBILE));
        assertEquals(0, MinutePairs.sum(null, 0, 10 * MINUTE));
    }

    /** A candidate's hour as "title minute c1 .. c6 earlier desktop mobile", in the order written. */
    private static List<String> candidateRows(
            KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> harness) {
        List<String> rows = new ArrayList<>();
        var records = harness.getSideOutput(HOUR.outputTag());
        if (records == null) {
            return rows;
        }
        for (StreamRecord<Row> record : records) {
            Row row = record.getValue();
            long end = (Long) row.getField(2);
            assertEquals(end - 1, record.getTimestamp(), "a candidate's event time is its window's last ms");
            StringBuilder line = new StringBuilder(row.getField(1) + " " + (end - T) / MINUTE);
            for (int i = 3; i < row.getArity(); i++) {
                line.append(' ').append(row.getField(i));
            }
            rows.add(line.toString());
        }
        records.clear();
        return rows;
    }

    /** Views of minutes [from, to) when minute m has m views: what a candidate's window must sum to. */
    private static long rampViews(int from, int to) {
        long total = 0;
        for (int m = Math.max(from, 0); m < to; m++) {
            total += m;
        }
        return total;
    }

    /** Ramp's views of known access in minute m: a third on the desktop site, half on the mobile one. */
    private static long rampDesktop(int minute) {
        return minute / 3;
    }

    private static long rampMobile(int minute) {
        return minute / 2;
    }

    private static long rampAccess(int from, int to, boolean desktop) {
        long total = 0;
        for (int m = from; m < to; m++) {
            total += desktop ? rampDesktop(m) : rampMobile(m);
        }
        return total;
    }

    private static void feedRamp(
            KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> h, int fromMinute, int toMinute)
            throws Exception {
        for (int minute = fromMinute; minute < toMinute; minute++) {
            h.processElement(minuteCount("Ramp", minute, minute, rampDesktop(minute), rampMobile(minute)));
            h.processElement(minuteCount("Quiet", minute, 1)); // ten views a window: never a candidate
        }
    }

    @Test
    void aCandidateCarriesTheSixWindowsOfItsTopicAndTheHourBeforeThem() throws Exception {
        try (var h = harness()) {
            h.open();
            feedRamp(h, 0, 131);
            h.processWatermark(new Watermark(T + 130 * MINUTE - 1));
            List<String> rows = candidateRows(h);
            // Ramp's window ending at minute 3 has 0+1+2 views; the first with 20 or more ends at 7.
            assertTrue(rows.get(0).startsWith("Ramp 7 "), rows.get(0));
            assertTrue(rows.stream().noneMatch(r -> r.startsWith("Quiet")), "ten views a window is no candidate");
            String last = rows.get(rows.size() - 1);
            // The window ending at 130 is c6 = minutes 120-129; c1 = 70-79; earlier = minutes 10-69;
            StringBuilder expected = new StringBuilder("Ramp 130");
            for (int k = 1; k <= 6; k++) {
                expected.append(' ').append(rampViews(70 + 10 * (k - 1), 80 + 10 * (k - 1)));
            }
            expected.append(' ').append(rampViews(10, 70));
            // Its hour's views of known access: minutes 70-129.
            expected.append(' ').append(rampAccess(70, 130, true)).append(' ').append(rampAccess(70, 130, false));
            assertEquals(expected.toString(), last);
            assertEquals(124, rows.size(), "one candidate a minute from 7 to 130");
        }
    }

    @Test
    void aRestoredOperatorGivesTheSameCandidates() throws Exception {
        List<String> straight;
        try (var h = harness()) {
            h.open();
            feedRamp(h, 0, 131);
            h.processWatermark(new Watermark(T + 130 * MINUTE - 1));
            straight = candidateRows(h);
        }
        List<String> resumed;
        OperatorSubtaskState snapshot;
        try (var h = harness()) {
            h.open();
            feedRamp(h, 0, 75);
            h.processWatermark(new Watermark(T + 70 * MINUTE - 1));
            resumed = new ArrayList<>(candidateRows(h));
            snapshot = h.snapshot(1L, T + 70 * MINUTE);
        }
        try (var h = harness()) {
            h.initializeState(snapshot);
            h.open();
            feedRamp(h, 75, 131);
            h.processWatermark(new Watermark(T + 130 * MINUTE - 1));
            resumed.addAll(candidateRows(h));
        }
        assertEquals(straight, resumed);
    }
}
