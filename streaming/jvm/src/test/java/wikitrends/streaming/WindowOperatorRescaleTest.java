package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

/** The window operator stopped at parallelism 2 and resumed at 4 writes every window once, as one would. */
class WindowOperatorRescaleTest {
    private static final long MINUTE = 60_000L;
    private static final long T = 1_772_431_200_000L; // 2026-03-02T06:00:00Z
    private static final int MAX_PARALLELISM = 128;

    private static KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row> harness(
            int parallelism, int subtask) throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new WindowOperator(10 * MINUTE, MINUTE, 10, new CandidateHours(6, 60 * MINUTE, 20), 60 * MINUTE, 4),
                new SlidingWindowCounts.ByArticle(),
                Types.TUPLE(Types.STRING, Types.STRING),
                MAX_PARALLELISM,
                parallelism,
                subtask);
    }

    /** A view of one of 40 articles a minute in minutes 0-11, to the subtask that owns the article. */
    private static void feed(List<KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row>> subtasks)
            throws Exception {
        for (int minute = 0; minute < 12; minute++) {
            for (int article = 0; article < 40; article++) {
                if ((article + minute) % 3 == 0) {
                    continue;
                }
                String title = "Article_" + article;
                int owner =
                        KeyGroupRangeAssignment.assignKeyToParallelOperator(
                                Tuple2.of("en.wikipedia", title), MAX_PARALLELISM, subtasks.size());
                subtasks.get(owner)
                        .processElement(
                                new StreamRecord<>(
                                        Row.of("en.wikipedia", title, T + minute * MINUTE, 1L, 0L, 0L),
                                        T + minute * MINUTE + 1_000));
            }
        }
    }

    private static List<String> windowRows(
            List<KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row>> subtasks) {
        List<String> rows = new ArrayList<>();
        for (var h : subtasks) {
            for (Object element : h.getOutput()) {
                if (element instanceof StreamRecord) {
                    Row row = (Row) ((StreamRecord<?>) element).getValue();
                    rows.add(row.getField(1) + " " + ((Long) row.getField(2) - T) / MINUTE + " " + row.getField(5));
                }
            }
            h.getOutput().clear();
        }
        return rows;
    }

    private static void watermark(
            List<KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row>> subtasks, long mark)
            throws Exception {
        for (var h : subtasks) {
            h.processWatermark(new Watermark(mark));
        }
    }

    @Test
    void aRescaledOperatorNeitherRepeatsNorSkipsAWindow() throws Exception {
        List<String> straight;
        try (var h = harness(1, 0)) {
            h.open();
            feed(List.of(h));
            h.processWatermark(new Watermark(T + 30 * MINUTE));
            straight = windowRows(List.of(h));
        }
        List<String> rescaled = new ArrayList<>();
        OperatorSubtaskState[] snapshots = new OperatorSubtaskState[2];
        List<KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row>> before =
                List.of(harness(2, 0), harness(2, 1));
        for (var h : before) {
            h.open();
        }
        feed(before);
        watermark(before, T + 7 * MINUTE - 1);
        rescaled.addAll(windowRows(before));
        for (int i = 0; i < 2; i++) {
            snapshots[i] = before.get(i).snapshot(1L, T + 7 * MINUTE);
            before.get(i).close();
        }
        OperatorSubtaskState packed = AbstractStreamOperatorTestHarness.repackageState(snapshots);
        List<KeyedOneInputStreamOperatorTestHarness<Tuple2<String, String>, Row, Row>> after = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            var h = harness(4, i);
            h.initializeState(
                    AbstractStreamOperatorTestHarness.repartitionOperatorState(packed, MAX_PARALLELISM, 2, 4, i));
            h.open();
            after.add(h);
        }
        watermark(after, T + 30 * MINUTE);
        rescaled.addAll(windowRows(after));
        for (var h : after) {
            h.close();
        }
        straight.sort(null);
        rescaled.sort(null);
        assertEquals(straight, rescaled);
    }
}
