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

    /** A wiki's views in one minute (of one subtask's articles), and those of known access. */
    public static final String[] SITE_MINUTE_COLUMNS = {
        "project", "minute_ms", "view_count", "desktop_count", "mobile_count"
    };
    /**
     * A block of an hour's counts: comma-separated JSON arrays ["project","title",views,desktop,mobile],
     * one per article with views in the hour (JSON, so any title survives): the S3 publisher reads a
     * few large rows an hour instead of millions.
     */
    public static final String[] HOURLY_COLUMNS = {"hour_start_ms", "block", "lines"};

    static final OutputTag<Row> SITE_MINUTES =
            new OutputTag<>("site-minutes", counts(SITE_MINUTE_COLUMNS, 1));
    static final OutputTag<Row> HOURLY_COUNTS =
            new OutputTag<>(
                    "hourly-counts",
                    new RowTypeInfo(new TypeInformation<?>[] {Types.LONG, Types.INT, Types.STRING}, HOURLY_COLUMNS));

    private SlidingWindowCounts() {}

    /** Rows of ``columns``: the first ``strings`` of them text, the rest longs. */
    private static RowTypeInfo counts(String[] columns, int strings) {
        TypeInformation<?>[] types = new TypeInformation<?>[columns.length];
        for (int i = 0; i < types.length; i++) {
            types[i] = i < strings ? Types.STRING : Types.LONG;
        }
        return new RowTypeInfo(types, columns);
    }

    /**
     * Window rows from views; the candidates' hours, each wiki's minutes and each article's hours are
     * its side outputs (candidateHours, siteMinutes, hourlyCounts).
     *
     * @param minuteCounts rows (project, title, minute_ms, view_count, desktop_count, mobile_count),
     *     each before the watermark passes its event time (PageRequests.read() gives one per event, a
     *     count of one); desktop and mobile count the views whose access is known
     * @param windowMs the window's length (10 minutes)
     * @param slideMs how often a window ends (every minute); windowMs is a multiple of it
     * @param topicCount window topics, chosen by the window start's minute mod this (10)
     * @param hour which windows make a candidate's hour, and the candidates' minimum views
     * @param hourMs the length of an hourly count (an hour)
     * @param hourlyBlocks an hour's counts come in at most this many blocks per subtask
     */
    public static SingleOutputStreamOperator<Row> windows(
            DataStream<Row> minuteCounts,
            long windowMs,
            long slideMs,
            int topicCount,
            CandidateHours hour,
            long hourMs,
            int hourlyBlocks) {
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
                        new WindowOperator(windowMs, slideMs, topicCount, hour, hourMs, hourlyBlocks))
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

    /**
     * Each wiki's views per minute of a window stage built by windows(): rows of SITE_MINUTE_COLUMNS,
     * one per wiki, minute and parallel subtask (sum them by wiki and minute), event time the minute's
     * last millisecond.
     */
    public static DataStream<Row> siteMinutes(SingleOutputStreamOperator<Row> windows) {
        return windows.getSideOutput(SITE_MINUTES);
    }

    /**
     * Each article's views per hour of a window stage built by windows(): rows of HOURLY_COLUMNS, a few
     * blocks per hour and subtask, event time the hour's last millisecond.
     */
    public static DataStream<Row> hourlyCounts(SingleOutputStreamOperator<Row> windows) {
        return windows.getSideOutput(HOURLY_COUNTS);
    }

    /** The article of a minute count: (project, title). */
    static final class ByArticle implements KeySelector<Row, Tuple2<String, String>> {
        @Override
        public Tuple2<String, String> getKey(Row row) {
            return Tuple2.of((String) row.getField(0), (String) row.getField(1));
        }
    }
}
