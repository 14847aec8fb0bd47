/*
 * Per-article minute counts as one primitive array, the sliding-window operator's state.
 */
package wikitrends.streaming;

/**
 * The pairs (minute start ms, views) of one article, as one array {@code [pairs, minute, views,
 * minute, views, ...]} with room to grow: one state value per article, no boxing.
 */
final class MinutePairs {
    private MinutePairs() {}

    /** Adds views to a minute (a new pair, or the minute's existing one); pairs may be null. */
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

    /** Views of the minutes in [fromMs, toMs); pairs may be null. */
    static long sum(long[] pairs, long fromMs, long toMs) {
        if (pairs == null) {
            return 0;
        }
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

    /** Whether any minute lies before beforeMs. */
    static boolean anyBefore(long[] pairs, long beforeMs) {
        int used = (int) pairs[0];
        for (int i = 0; i < used; i++) {
            if (pairs[1 + 2 * i] < beforeMs) {
                return true;
            }
        }
        return false;
    }

    /** Adds the minutes of {@code from} that lie before beforeMs to {@code to} (may be null). */
    static long[] addBefore(long[] to, long[] from, long beforeMs) {
        int used = (int) from[0];
        for (int i = 0; i < used; i++) {
            if (from[1 + 2 * i] < beforeMs) {
                to = add(to, from[1 + 2 * i], from[2 + 2 * i]);
            }
        }
        return to;
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
