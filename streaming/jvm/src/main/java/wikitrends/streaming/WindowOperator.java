/*
 * The sliding-window operator of SlidingWindowCounts: per-article minutes in keyed state, walked once
 * a minute when the watermark passes the minute's end.
 */
package wikitrends.streaming;

import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * Writes each window when the watermark passes its end, each candidate's hour, each wiki's views of
 * the minute and, once an hour has passed, each article's hour; then forwards the watermark.
 *
 * <p>Per article two states: the minutes a window still to be written covers ("recent", walked every
 * minute) and the older minutes a later candidate's hour or hourly count reaches ("older", read only
 * for candidates, when a minute moves in and once an hour; swept once per window length for articles
 * no longer seen). {@code nextWindowEnd} is the end of the earliest window not written yet that can
 * have views, {@code hourEnds} the ends of the hours with views not written yet; both are
 * checkpointed with the articles' minutes, so a restored job neither repeats nor skips a window or
 * an hour.
 */
final class WindowOperator extends AbstractStreamOperator<Row> implements OneInputStreamOperator<Row, Row> {
    private static final long NONE = Long.MAX_VALUE;
    private static final TypeInformation<long[]> LONGS = PrimitiveArrayTypeInfo.LONG_PRIMITIVE_ARRAY_TYPE_INFO;
    private static final String[] RETIRED_STATES = {"minute-pairs", "older-minute-pairs"};

    private final long windowMs;
    private final long slideMs;
    private final int topicCount;
    private final CandidateHours hour;
    private final long hourMs;
    private final int hourlyBlocks;

    private transient ValueStateDescriptor<long[]> recentDescriptor;
    private transient ValueStateDescriptor<long[]> olderDescriptor;
    private transient ValueState<long[]> recent;
    private transient ValueState<long[]> older;
    private transient ListState<Long> nextWindowEndState;
    private transient ListState<Long> hourEndsState;
    private transient long nextWindowEnd;
    private transient TreeSet<Long> hourEnds;
    private transient long lastHourEnd;
    private transient OutputTag<Row> candidates;
    private transient StreamRecord<Row> outRecord;
    private transient StreamRecord<Row> sideRecord;

    WindowOperator(long windowMs, long slideMs, int topicCount, CandidateHours hour, long hourMs, int hourlyBlocks) {
        this.windowMs = windowMs;
        this.slideMs = slideMs;
        this.topicCount = topicCount;
        this.hour = hour;
        this.hourMs = hourMs;
        this.hourlyBlocks = hourlyBlocks;
    }

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        recentDescriptor = new ValueStateDescriptor<>("recent-minutes", LONGS);
        olderDescriptor = new ValueStateDescriptor<>("older-minutes", LONGS);
        recent = getPartitionedState(recentDescriptor);
        older = getPartitionedState(olderDescriptor);
        dropRetiredState();
        // Every subtask gets every subtask's next window after a rescale, and takes the earliest. They
        // are the same in one checkpoint (NONE aside: a subtask without articles): an aligned barrier
        // comes after the same watermarks on every channel, and no element sets a window before the
        // watermark's. Split among the subtasks instead, a subtask given none would skip the windows
        // of the articles it restored until its first new element.
        nextWindowEndState =
                context.getOperatorStateStore()
                        .getUnionListState(new ListStateDescriptor<>("next-window-ends", Types.LONG));
        nextWindowEnd = NONE;
        for (Long restored : nextWindowEndState.get()) {
            nextWindowEnd = Math.min(nextWindowEnd, restored);
        }
        // Every subtask gets every hour end after a rescale: an hour with none of its articles writes nothing.
        hourEndsState =
                context.getOperatorStateStore().getUnionListState(new ListStateDescriptor<>("hour-ends", Types.LONG));
        hourEnds = new TreeSet<>();
        for (Long restored : hourEndsState.get()) {
            hourEnds.add(restored);
        }
        lastHourEnd = NONE;
        candidates = hour.outputTag();
        outRecord = new StreamRecord<>(null);
        sideRecord = new StreamRecord<>(null);
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
        hourEndsState.update(new ArrayList<>(hourEnds));
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
        long hourEnd = minuteMs - Math.floorMod(minuteMs, hourMs) + hourMs;
        if (hourEnd != lastHourEnd) {
            hourEnds.add(hourEnd);
            lastHourEnd = hourEnd;
        }
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        // A window [end - windowMs, end) or an hour is complete once the watermark reaches its last
        // millisecond; at the same end the window goes first (the hour reads the minutes it moves).
        while (true) {
            long hourEnd = hourEnds.isEmpty() ? NONE : hourEnds.first();
            long next = Math.min(nextWindowEnd, hourEnd);
            if (next == NONE || next - 1 > mark.getTimestamp()) {
                break;
            }
            if (nextWindowEnd == next) {
                boolean articlesLeft = writeWindows(next);
                nextWindowEnd = articlesLeft ? next + slideMs : NONE;
            }
            if (hourEnd == next) {
                writeHour(next);
                hourEnds.pollFirst();
                lastHourEnd = NONE;
            }
        }
        super.processWatermark(mark);
    }

    /**
     * Writes every article's window ending at windowEnd, the candidates' hours and each wiki's views of
     * the minute before windowEnd; returns whether any article is left.
     */
    private boolean writeWindows(long windowEnd) throws Exception {
        long windowStart = windowEnd - windowMs;
        int digit = (int) Math.floorMod(windowStart / slideMs, (long) topicCount);
        long minuteStart = windowEnd - slideMs;
        // The next window starts one slide later: older minutes move out of the recent ones...
        long keepFrom = windowStart + slideMs;
        // ... and the next candidate's hour and the next hourly count reach back this far.
        long olderFrom = windowEnd + slideMs - Math.max(hour.reachMs(windowMs), hourMs);
        outRecord.setTimestamp(windowEnd - 1);
        sideRecord.setTimestamp(windowEnd - 1);
        boolean[] left = {false};
        Map<String, long[]> siteViews = new HashMap<>();
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
                        addMinute(siteViews, article.f0, minutes, minuteStart, windowEnd);
                    }
                    boolean candidate = views >= hour.minViews;
                    boolean movesOut = MinutePairs.anyBefore(minutes, keepFrom);
                    // The older minutes are read only when needed, and then once.
                    long[] olderMinutes = candidate || movesOut ? older.value() : null;
                    if (candidate) {
                        Row row = hour.row(article, windowEnd, windowMs, olderMinutes, minutes);
                        output.collect(candidates, sideRecord.replace(row));
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
        for (Map.Entry<String, long[]> site : siteViews.entrySet()) {
            long[] counts = site.getValue();
            Row row = Row.of(site.getKey(), minuteStart, counts[0], counts[1], counts[2]);
            output.collect(SlidingWindowCounts.SITE_MINUTES, sideRecord.replace(row));
        }
        if (windowEnd % windowMs == 0) {
            sweepOlder(olderFrom);
        }
        return left[0];
    }

    /** Adds an article's views of the minute [fromMs, toMs) to its wiki's (views, desktop, mobile). */
    private static void addMinute(
            Map<String, long[]> siteViews, String project, long[] minutes, long fromMs, long toMs) {
        long views = MinutePairs.sum(minutes, fromMs, toMs, MinutePairs.VIEWS);
        if (views == 0) {
            return;
        }
        long[] site = siteViews.computeIfAbsent(project, p -> new long[3]);
        site[0] += views;
        site[1] += MinutePairs.sum(minutes, fromMs, toMs, MinutePairs.DESKTOP);
        site[2] += MinutePairs.sum(minutes, fromMs, toMs, MinutePairs.MOBILE);
    }

    /**
     * Writes each article's views in the hour ending at hourEnd, packed into at most hourlyBlocks rows
     * (hour_start_ms, block, lines): those with older minutes from both states, then those with recent
     * minutes only.
     */
    private void writeHour(long hourEnd) throws Exception {
        long hourStart = hourEnd - hourMs;
        StringBuilder[] blocks = new StringBuilder[hourlyBlocks];
        KeyedStateBackend<Tuple2<String, String>> articles = getKeyedStateBackend();
        articles.applyToAllKeys(
                VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE,
                olderDescriptor,
                (article, state) -> addHour(blocks, article, hourStart, hourEnd, state.value(), recent.value()));
        articles.applyToAllKeys(
                VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE,
                recentDescriptor,
                (article, state) -> {
                    if (older.value() == null) {
                        addHour(blocks, article, hourStart, hourEnd, null, state.value());
                    }
                });
        sideRecord.setTimestamp(hourEnd - 1);
        for (int block = 0; block < blocks.length; block++) {
            if (blocks[block] != null) {
                Row row = Row.of(hourStart, block, blocks[block].toString());
                output.collect(SlidingWindowCounts.HOURLY_COUNTS, sideRecord.replace(row));
            }
        }
    }

    /** Adds an article's hour to its block as ["project","title",views,desktop,mobile] (if it has views). */
    private static void addHour(
            StringBuilder[] blocks,
            Tuple2<String, String> article,
            long fromMs,
            long toMs,
            long[] olderMinutes,
            long[] recentMinutes) {
        long views = MinutePairs.sum(olderMinutes, recentMinutes, fromMs, toMs, MinutePairs.VIEWS);
        if (views == 0) {
            return;
        }
        int block = Math.floorMod(article.f1.hashCode(), blocks.length);
        StringBuilder line = blocks[block];
        if (line == null) {
            line = blocks[block] = new StringBuilder();
        } else {
            line.append(',');
        }
        line.append('[');
        WindowTopics.quote(line, article.f0);
        line.append(',');
        WindowTopics.quote(line, article.f1);
        long desktopViews = MinutePairs.sum(olderMinutes, recentMinutes, fromMs, toMs, MinutePairs.DESKTOP);
        long mobileViews = MinutePairs.sum(olderMinutes, recentMinutes, fromMs, toMs, MinutePairs.MOBILE);
        line.append(',').append(views).append(',').append(desktopViews).append(',').append(mobileViews);
        line.append(']');
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
