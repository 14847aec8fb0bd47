/*
 * The streaming job's sliding windows: 10-minute windows sliding every minute, from minute counts.
 *
 * Why this file exists: the window stage was the job's bottleneck in Flink SQL (a HOP aggregation,
 * 87 % busy at ~57,000 window rows/s; README "Throughput"). Flink's sliding windows keep a slice per
 * article and minute, merge ten slices for every window they fire and register a timer per article
 * and window. This operator keeps, per article, the (minute, views) pairs of the minutes it was seen
 * that a window still to be written covers, and when the watermark passes the end of a minute it
 * walks the articles once: sum, write the window row, drop the pairs no later window needs. No
 * timers, one state read and write per article and minute. The rows are the ones the HOP query
 * wrote: one per article and window with views, the same columns, the window's last millisecond as
 * the event time.
 *
 * streaming/job.py calls windows() through PyFlink's Java gateway; deploy/local/stack.py install builds
 * this module (streaming/jvm/pom.xml) and the job ships its jar; its tests are in src/test.
 */
package wikitrends.streaming;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

import java.util.Collections;

/** Builds the window stage; the operator and its per-article state follow. */
public final class SlidingWindowCounts {

    /** The columns of a window row, as the window topics and the trending candidates read them. */
    public static final String[] WINDOW_COLUMNS = {
        "project", "title", "window_start_ms", "w_end_ms", "digit", "view_count"
    };

    private SlidingWindowCounts() {}

    /**
     * Window rows from minute counts.
     *
     * @param minuteCounts rows (project, title, minute_ms, view_count): one per article and minute,
     *     each before the watermark passes its minute's end (Flink's minute windows emit them so)
     * @param windowMs the window's length (10 minutes)
     * @param slideMs how often a window ends (every minute); windowMs is a multiple of it
     * @param topicCount window topics, chosen by the window start's minute mod this (10)
     */
    public static DataStream<Row> windows(
            DataStream<Row> minuteCounts, long windowMs, long slideMs, int topicCount) {
        TypeInformation<Row> rowType =
                new RowTypeInfo(
                        new TypeInformation<?>[] {
                            Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.INT, Types.LONG
                        },
                        WINDOW_COLUMNS);
        return minuteCounts
                .keyBy(new ByArticle(), Types.TUPLE(Types.STRING, Types.STRING))
                .transform(
                        "sliding windows: views per article, 10 min every minute",
                        rowType,
                        new WindowOperator(windowMs, slideMs, topicCount))
                .uid("sliding-window-counts");
    }

    /** The article of a minute count: (project, title). */
    static final class ByArticle implements KeySelector<Row, Tuple2<String, String>> {
        @Override
        public Tuple2<String, String> getKey(Row row) {
            return Tuple2.of((String) row.getField(0), (String) row.getField(1));
        }
    }

    /**
     * Per article, the pairs (minute start ms, views) of the minutes a window still to be written
     * covers, as one array {@code [pairs, minute, views, minute, views, ...]} with room to grow.
     */
    static final class MinutePairs {
        private MinutePairs() {}

        static long[] add(long[] pairs, long minuteMs, long views) {
            if (pairs == null) {
                return new long[] {1, minuteMs, views, 0, 0};
            }
            int used = (int) pairs[0];
            for (int i = 0; i < used; i++) {
                if (pairs[1 + 2 * i] == minuteMs) {
                    pairs[2 + 2 * i] += views;
                    return pairs;
                }
            }
            long[] grown = pairs;
            if (1 + 2 * (used + 1) > pairs.length) {
                grown = new long[1 + 4 * (used + 1)];
                System.arraycopy(pairs, 0, grown, 0, 1 + 2 * used);
            }
            grown[1 + 2 * used] = minuteMs;
            grown[2 + 2 * used] = views;
            grown[0] = used + 1;
            return grown;
        }

        /** Views of the minutes in [fromMs, toMs). */
        static long sum(long[] pairs, long fromMs, long toMs) {
            long total = 0;
            int used = (int) pairs[0];
            for (int i = 0; i < used; i++) {
                long minute = pairs[1 + 2 * i];
                if (minute >= fromMs && minute < toMs) {
                    total += pairs[2 + 2 * i];
                }
            }
            return total;
        }

        /** Drops the minutes before keepFromMs in place; returns how many pairs remain. */
        static int dropBefore(long[] pairs, long keepFromMs) {
            int used = (int) pairs[0];
            int kept = 0;
            for (int i = 0; i < used; i++) {
                if (pairs[1 + 2 * i] >= keepFromMs) {
                    pairs[1 + 2 * kept] = pairs[1 + 2 * i];
                    pairs[2 + 2 * kept] = pairs[2 + 2 * i];
                    kept++;
                }
            }
            pairs[0] = kept;
            return kept;
        }
    }

    /**
     * Writes each window when the watermark passes its end, then forwards the watermark.
     *
     * <p>{@code nextWindowEnd} is the end of the earliest window not written yet that can have
     * views; it is checkpointed with the articles' pairs, so a restored job neither repeats nor
     * skips a window.
     */
    static final class WindowOperator extends AbstractStreamOperator<Row>
            implements OneInputStreamOperator<Row, Row> {
        private static final long NONE = Long.MAX_VALUE;

        private final long windowMs;
        private final long slideMs;
        private final int topicCount;

        private transient ValueStateDescriptor<long[]> pairsDescriptor;
        private transient ValueState<long[]> pairs;
        private transient ListState<Long> nextWindowEndState;
        private transient long nextWindowEnd;
        private transient StreamRecord<Row> outRecord;

        WindowOperator(long windowMs, long slideMs, int topicCount) {
            this.windowMs = windowMs;
            this.slideMs = slideMs;
            this.topicCount = topicCount;
        }

        @Override
        public void initializeState(StateInitializationContext context) throws Exception {
            super.initializeState(context);
            pairsDescriptor =
                    new ValueStateDescriptor<>(
                            "minute-pairs", PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO);
            pairs = getPartitionedState(pairsDescriptor);
            nextWindowEndState =
                    context.getOperatorStateStore()
                            .getListState(new ListStateDescriptor<>("next-window-end", Types.LONG));
            nextWindowEnd = NONE;
            for (Long restored : nextWindowEndState.get()) {
                nextWindowEnd = Math.min(nextWindowEnd, restored);
            }
            outRecord = new StreamRecord<>(null);
        }

        @Override
        public void snapshotState(StateSnapshotContext context) throws Exception {
            super.snapshotState(context);
            nextWindowEndState.update(Collections.singletonList(nextWindowEnd));
        }

        @Override
        public void processElement(StreamRecord<Row> element) throws Exception {
            Row minuteCount = element.getValue();
            long minuteMs = (Long) minuteCount.getField(2);
            long views = (Long) minuteCount.getField(3);
            pairs.update(MinutePairs.add(pairs.value(), minuteMs, views));
            // The first window that covers this minute ends one slide after its start.
            nextWindowEnd = Math.min(nextWindowEnd, minuteMs + slideMs);
        }

        @Override
        public void processWatermark(Watermark mark) throws Exception {
            // A window [end - windowMs, end) is complete once the watermark reaches its last millisecond.
            while (nextWindowEnd != NONE && nextWindowEnd - 1 <= mark.getTimestamp()) {
                boolean articlesLeft = writeWindows(nextWindowEnd);
                nextWindowEnd = articlesLeft ? nextWindowEnd + slideMs : NONE;
            }
            super.processWatermark(mark);
        }

        /** Writes every article's window ending at windowEnd; returns whether any article is left. */
        private boolean writeWindows(long windowEnd) throws Exception {
            long windowStart = windowEnd - windowMs;
            int digit = (int) Math.floorMod(windowStart / slideMs, (long) topicCount);
            // The next window starts one slide later: older minutes are no longer needed.
            long keepFrom = windowStart + slideMs;
            outRecord.setTimestamp(windowEnd - 1);
            boolean[] left = {false};
            KeyedStateBackend<Tuple2<String, String>> articles = getKeyedStateBackend();
            articles.applyToAllKeys(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            pairsDescriptor,
                            (article, state) -> {
                                long[] articlePairs = state.value();
                                long views = MinutePairs.sum(articlePairs, windowStart, windowEnd);
                                if (views > 0) {
                                    output.collect(
                                            outRecord.replace(
                                                    Row.of(
                                                            article.f0,
                                                            article.f1,
                                                            windowStart,
                                                            windowEnd,
                                                            digit,
                                                            views)));
                                }
                                if (MinutePairs.dropBefore(articlePairs, keepFrom) == 0) {
                                    state.clear();
                                } else {
                                    state.update(articlePairs);
                                    left[0] = true;
                                }
                            });
            return left[0];
        }
    }
}
