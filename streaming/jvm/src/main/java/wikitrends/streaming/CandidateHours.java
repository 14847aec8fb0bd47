/*
 * Which windows make a trending candidate's hour, and the candidate rows the window operator writes.
 */
package wikitrends.streaming;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;

import java.io.Serializable;

/**
 * A candidate's hour: the windowsPerHour windows of its topic ending at its window (c1 the
 * oldest), and its views in the earlierMs before them (core/trending.py's baseline).
 */
public final class CandidateHours implements Serializable {
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
        row.setField(windowsPerHour + 4, MinutePairs.sum(older, recent, hourStart, windowEnd, MinutePairs.DESKTOP));
        row.setField(windowsPerHour + 5, MinutePairs.sum(older, recent, hourStart, windowEnd, MinutePairs.MOBILE));
        return row;
    }

    /** How far back a window ending at windowEnd reads: its hour and the baseline before it. */
    long reachMs(long windowMs) {
        return windowsPerHour * windowMs + earlierMs;
    }

    private static long views(long[] older, long[] recent, long fromMs, long toMs) {
        return MinutePairs.sum(older, recent, fromMs, toMs, MinutePairs.VIEWS);
    }
}
