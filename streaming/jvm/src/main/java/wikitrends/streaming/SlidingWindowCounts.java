/*
 * The streaming job's sliding windows and trending candidates' hours, from minute counts.
 *
 * Why this file exists: the window stage was the job's bottleneck in Flink SQL (a HOP aggregation,
 * 87 % busy at ~57,000 window rows/s; docs/streaming.md "Throughput"). Flink's sliding windows keep
 * a slice per article and minute, merge ten slices for every window they fire and register a timer
 * per article and window. This operator keeps, per article, the (minute, views) pairs of the minutes
 * a window still to be written covers, and when the watermark passes the end of a minute it walks
 * those articles once: sum, write the window row, move the minutes no later window needs to the
 * article's older minutes. No timers, one state read and write per article and minute.
 *
 * The same walk serves trending: a window with at least the candidates' minimum of views is a
 * candidate, and its hour (the six windows of its topic and the views before them, core/trending.py)
 * is summed from the article's older minutes and written to a side output. The older minutes are
 * read only for candidates and when a minute moves in; they replace a SQL join that kept a second
 * copy of every minute count (docs/streaming.md).
 *
 * streaming/pageviews/job.py calls windows() and candidateHours() through PyFlink's Java gateway;
 * deploy/local/stack.py install builds this module (streaming/jvm/pom.xml) and the job ships its
 * jar; its tests are in src/test.
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
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;

import java.io.Serializable;
import java.util.Collections;

/** Builds the window stage; the operator and its per-article state follow. */
public final class SlidingWindowCounts {

    /**
     * The columns of a window row: the window topics' JSON fields (docs/architecture.md), and the
     * digit of the topic it goes to (epoch ms for the window's bounds).
     */
    public static final String[] WINDOW_COLUMNS = {
        "project", "title", "window_start", "window_end", "topic_digit", "count"
    };

    private SlidingWindowCounts() {}

    /**
     * Window rows from minute counts; the candidates' hours are its side output (candidateHours).
     *
     * @param minuteCounts rows (project, title, minute_ms, view_count, desktop_count, mobile_count):
     *     one per article and minute, each before the watermark passes its minute's end (Flink's minute
     *     windows emit them so); desktop and mobile count the views whose access is known
     * @param windowMs the window's length (10 minutes)
     * @param slideMs how often a window ends (every minute); windowMs is a multiple of it
     * @param topicCount window topics, chosen by the window start's minute mod this (10)
     * @param hour which windows make a candidate's hour, and the candidates' minimum views
     */
    public static SingleOutputStreamOperator<Row> windows(
            DataStream<Row> minuteCounts,
            long windowMs,
            long slideMs,
            int topicCount,
            CandidateHours hour) {
        TypeInformation<Row> rowType =
                new RowTypeInfo(
                        new TypeInformation<?>[] {
                            Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.INT, Types.LONG
                        },
                        WINDOW_COLUMNS);
        return minuteCounts
                .keyBy(new ByArticle(), Types.TUPLE(Types.STRING, Types.STRING))
                .transform(
                        "sliding windows: views per article, 10 min every minute; candidates' hours",
                        rowType,
                        new WindowOperator(windowMs, slideMs, topicCount, hour))
                .uid("sliding-window-counts");
    }

    /**
     * The candidates' hours of a window stage built by windows(): rows (project, title, minute_ms,
     * c1, ..., cN, earlier, desktop, mobile), one per window with at least the minimum views, its event
     * time the window's last millisecond; desktop and mobile are the hour's views of known access.
     */
    public static DataStream<Row> candidateHours(SingleOutputStreamOperator<Row> windows, CandidateHours hour) {
        return windows.getSideOutput(hour.outputTag());
    }

    /** The article of a minute count: (project, title). */
    static final class ByArticle implements KeySelector<Row, Tuple2<String, String>> {
        @Override
        public Tuple2<String, String> getKey(Row row) {
            return Tuple2.of((String) row.getField(0), (String) row.getField(1));
        }
    }

    /**
     * A candidate's hour: the windowsPerHour windows of its topic ending at its window (c1 the
     * oldest), and its views in the earlierMs before them (core/trending.py's baseline).
     */
    public static final class CandidateHours implements Serializable {
        private static final long serialVersionUID = 1L;

        final int windowsPerHour;
        final long earlierMs;
        final long minViews;

        /**
         * @param windowsPerHour windows of one topic in an hour (6)
         * @param earlierMs how far before the hour the baseline reaches
         * @param minViews a window is a candidate when it has at least this many views
         */
        public CandidateHours(int windowsPerHour, long earlierMs, long minViews) {
            this.windowsPerHour = windowsPerHour;
            this.earlierMs = earlierMs;
            this.minViews = minViews;
        }

        /** The candidate rows' columns: project, title, minute_ms, c1..cN, earlier, desktop, mobile. */
        public String[] columns() {
            String[] columns = new String[windowsPerHour + 6];
            columns[0] = "project";
            columns[1] = "title";
            columns[2] = "minute_ms";
            for (int k = 1; k <= windowsPerHour; k++) {
                columns[2 + k] = "c" + k;
            }
            columns[windowsPerHour + 3] = "earlier";
            columns[windowsPerHour + 4] = "desktop";
            columns[windowsPerHour + 5] = "mobile";
            return columns;
        }

        OutputTag<Row> outputTag() {
            TypeInformation<?>[] types = new TypeInformation<?>[windowsPerHour + 6];
            types[0] = Types.STRING;
            types[1] = Types.STRING;
            for (int i = 2; i < types.length; i++) {
                types[i] = Types.LONG;
            }
            return new OutputTag<>("candidate-hours", new RowTypeInfo(types, columns()));
        }

        /** The candidate row of the window ending at windowEnd, summed from the article's minutes. */
        Row row(Tuple2<String, String> article, long windowEnd, long windowMs, long[] older, long[] recent) {
            Row row = new Row(windowsPerHour + 6);
            row.setField(0, article.f0);
            row.setField(1, article.f1);
            row.setField(2, windowEnd);
            long hourStart = windowEnd - windowsPerHour * windowMs;
            for (int k = 1; k <= windowsPerHour; k++) {
                long from = hourStart + (k - 1) * windowMs;
                row.setField(2 + k, views(older, recent, from, from + windowMs));
            }
            row.setField(windowsPerHour + 3, views(older, recent, hourStart - earlierMs, hourStart));
            row.setField(windowsPerHour + 4, views(older, recent, hourStart, windowEnd, MinutePairs.DESKTOP));
            row.setField(windowsPerHour + 5, views(older, recent, hourStart, windowEnd, MinutePairs.MOBILE));
            return row;
        }

        /** How far back a window ending at windowEnd reads: its hour and the baseline before it. */
        long reachMs(long windowMs) {
            return windowsPerHour * windowMs + earlierMs;
        }

        private static long views(long[] older, long[] recent, long fromMs, long toMs) {
            return views(older, recent, fromMs, toMs, MinutePairs.VIEWS);
        }

        private static long views(long[] older, long[] recent, long fromMs, long toMs, int count) {
            return MinutePairs.sum(older, fromMs, toMs, count) + MinutePairs.sum(recent, fromMs, toMs, count);
        }
    }

    /**
     * Writes each window when the watermark passes its end, and each candidate's hour, then
     * forwards the watermark.
     *
     * <p>Per article two states: the minutes a window still to be written covers ("recent", walked
     * every minute) and the older minutes a later candidate's hour reaches ("older", read only for
     * candidates and when a minute moves in; swept once per window length for articles no longer
     * seen). {@code nextWindowEnd} is the end of the earliest window not written yet that can have
     * views; it is checkpointed with the articles' minutes, so a restored job neither repeats nor
     * skips a window.
     */
    static final class WindowOperator extends AbstractStreamOperator<Row>
            implements OneInputStreamOperator<Row, Row> {
        private static final long NONE = Long.MAX_VALUE;
        private static final TypeInformation<long[]> LONGS = PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO;
        private static final String[] RETIRED_STATES = {"minute-pairs", "older-minute-pairs"};

        private final long windowMs;
        private final long slideMs;
        private final int topicCount;
        private final CandidateHours hour;

        private transient ValueStateDescriptor<long[]> recentDescriptor;
        private transient ValueStateDescriptor<long[]> olderDescriptor;
        private transient ValueState<long[]> recent;
        private transient ValueState<long[]> older;
        private transient ListState<Long> nextWindowEndState;
        private transient long nextWindowEnd;
        private transient OutputTag<Row> candidates;
        private transient StreamRecord<Row> outRecord;
        private transient StreamRecord<Row> candidateRecord;

        WindowOperator(long windowMs, long slideMs, int topicCount, CandidateHours hour) {
            this.windowMs = windowMs;
            this.slideMs = slideMs;
            this.topicCount = topicCount;
            this.hour = hour;
        }

        @Override
        public void initializeState(StateInitializationContext context) throws Exception {
            super.initializeState(context);
            recentDescriptor = new ValueStateDescriptor<>("recent-minutes", LONGS);
            olderDescriptor = new ValueStateDescriptor<>("older-minutes", LONGS);
            recent = getPartitionedState(recentDescriptor);
            older = getPartitionedState(olderDescriptor);
            dropRetiredState();
            nextWindowEndState =
                    context.getOperatorStateStore()
                            .getListState(new ListStateDescriptor<>("next-window-end", Types.LONG));
            nextWindowEnd = NONE;
            for (Long restored : nextWindowEndState.get()) {
                nextWindowEnd = Math.min(nextWindowEnd, restored);
            }
            candidates = hour.outputTag();
            outRecord = new StreamRecord<>(null);
            candidateRecord = new StreamRecord<>(null);
        }

        /**
         * Clears the state of a savepoint taken before minutes carried their access ("minute-pairs" and
         * "older-minute-pairs", two longs a minute): it cannot be read as the new layout, so a job
         * resumed from such a savepoint starts its windows afresh instead of carrying it forever.
         */
        private void dropRetiredState() throws Exception {
            for (String retired : RETIRED_STATES) {
                ValueStateDescriptor<long[]> descriptor = new ValueStateDescriptor<>(retired, LONGS);
                getKeyedStateBackend()
                        .applyToAllKeys(
                                VoidNamespace.INSTANCE,
                                VoidNamespaceSerializer.INSTANCE,
                                descriptor,
                                (article, state) -> state.clear());
            }
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
            long desktop = (Long) minuteCount.getField(4);
            long mobile = (Long) minuteCount.getField(5);
            recent.update(MinutePairs.add(recent.value(), minuteMs, views, desktop, mobile));
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
            // The next window starts one slide later: older minutes move out of the recent ones...
            long keepFrom = windowStart + slideMs;
            // ... and the next candidate's hour reaches back this far.
            long olderFrom = windowEnd + slideMs - hour.reachMs(windowMs);
            outRecord.setTimestamp(windowEnd - 1);
            candidateRecord.setTimestamp(windowEnd - 1);
            boolean[] left = {false};
            KeyedStateBackend<Tuple2<String, String>> articles = getKeyedStateBackend();
            // applyToAllKeys sets each article as the current key: `older` reads that article's state.
            articles.applyToAllKeys(
                    VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE,
                    recentDescriptor,
                    (article, state) -> {
                        long[] minutes = state.value();
                        long views = MinutePairs.sum(minutes, windowStart, windowEnd);
                        if (views > 0) {
                            output.collect(
                                    outRecord.replace(
                                            Row.of(article.f0, article.f1, windowStart, windowEnd, digit, views)));
                        }
                        boolean candidate = views >= hour.minViews;
                        boolean movesOut = MinutePairs.anyBefore(minutes, keepFrom);
                        // The older minutes are read only when needed, and then once.
                        long[] olderMinutes = candidate || movesOut ? older.value() : null;
                        if (candidate) {
                            Row row = hour.row(article, windowEnd, windowMs, olderMinutes, minutes);
                            output.collect(candidates, candidateRecord.replace(row));
                        }
                        if (movesOut) {
                            olderMinutes = MinutePairs.addBefore(olderMinutes, minutes, keepFrom);
                            if (MinutePairs.dropBefore(olderMinutes, olderFrom) == 0) {
                                older.clear();
                            } else {
                                older.update(olderMinutes);
                            }
                            if (MinutePairs.dropBefore(minutes, keepFrom) == 0) {
                                state.clear();
                                return;
                            }
                            state.update(minutes);
                        }
                        left[0] = true;
                    });
            if (windowEnd % windowMs == 0) {
                sweepOlder(olderFrom);
            }
            return left[0];
        }

        /** Drops the older minutes no candidate's hour reaches any more, and articles left with none. */
        private void sweepOlder(long olderFrom) throws Exception {
            getKeyedStateBackend()
                    .applyToAllKeys(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            olderDescriptor,
                            (article, state) -> {
                                long[] minutes = state.value();
                                if (!MinutePairs.anyBefore(minutes, olderFrom)) {
                                    return;
                                }
                                if (MinutePairs.dropBefore(minutes, olderFrom) == 0) {
                                    state.clear();
                                } else {
                                    state.update(minutes);
                                }
                            });
        }
    }
}
