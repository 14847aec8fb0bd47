/*
 * Per-article minute counts as one primitive array, the sliding-window operator's state.
 */
package wikitrends.streaming;

/**
 * The minutes of one article as one array {@code [used, minute, views, desktop, mobile, minute, ...]}
 * with room to grow: one state value per article, no boxing. {@code desktop} and {@code mobile} are the
 * minute's views whose access is known to be the desktop or the mobile site (the rest: unknown).
 */
final class MinutePairs {
    /** Longs per minute: its start (ms), then its views, desktop views and mobile views. */
    static final int STRIDE = 4;
    /** Offsets of the counts after a minute's start. */
    static final int VIEWS = 1;
    static final int DESKTOP = 2;
    static final int MOBILE = 3;

    private MinutePairs() {}

    /** Adds views to a minute (a new entry, or the minute's existing one); pairs may be null. */
    static long[] add(long[] pairs, long minuteMs, long views, long desktop, long mobile) {
        if (pairs == null) {
            return new long[] {1, minuteMs, views, desktop, mobile, 0, 0, 0, 0};
        }
        int used = (int) pairs[0];
        for (int i = 0; i < used; i++) {
            int at = 1 + STRIDE * i;
            if (pairs[at] == minuteMs) {
                pairs[at + VIEWS] += views;
                pairs[at + DESKTOP] += desktop;
                pairs[at + MOBILE] += mobile;
                return pairs;
            }
        }
        long[] grown = pairs;
        if (1 + STRIDE * (used + 1) > pairs.length) {
            grown = new long[1 + 2 * STRIDE * (used + 1)];
            System.arraycopy(pairs, 0, grown, 0, 1 + STRIDE * used);
        }
        int at = 1 + STRIDE * used;
        grown[at] = minuteMs;
        grown[at + VIEWS] = views;
        grown[at + DESKTOP] = desktop;
        grown[at + MOBILE] = mobile;
        grown[0] = used + 1;
        return grown;
    }

    /** Views of the minutes in [fromMs, toMs); pairs may be null. */
    static long sum(long[] pairs, long fromMs, long toMs) {
        return sum(pairs, fromMs, toMs, VIEWS);
    }

    /** One count (VIEWS, DESKTOP or MOBILE) of the minutes in [fromMs, toMs); pairs may be null. */
    static long sum(long[] pairs, long fromMs, long toMs, int count) {
        if (pairs == null) {
            return 0;
        }
        long total = 0;
        int used = (int) pairs[0];
        for (int i = 0; i < used; i++) {
            int at = 1 + STRIDE * i;
            if (pairs[at] >= fromMs && pairs[at] < toMs) {
                total += pairs[at + count];
            }
        }
        return total;
    }

    /** One count of the minutes in [fromMs, toMs) of an article's two arrays (older and recent; either may be null). */
    static long sum(long[] older, long[] recent, long fromMs, long toMs, int count) {
        return sum(older, fromMs, toMs, count) + sum(recent, fromMs, toMs, count);
    }

    /** Whether any minute lies before beforeMs. */
    static boolean anyBefore(long[] pairs, long beforeMs) {
        int used = (int) pairs[0];
        for (int i = 0; i < used; i++) {
            if (pairs[1 + STRIDE * i] < beforeMs) {
                return true;
            }
        }
        return false;
    }

    /** Adds the minutes of {@code from} that lie before beforeMs to {@code to} (may be null). */
    static long[] addBefore(long[] to, long[] from, long beforeMs) {
        int used = (int) from[0];
        for (int i = 0; i < used; i++) {
            int at = 1 + STRIDE * i;
            if (from[at] < beforeMs) {
                to = add(to, from[at], from[at + VIEWS], from[at + DESKTOP], from[at + MOBILE]);
            }
        }
        return to;
    }

    /** Drops the minutes before keepFromMs in place; returns how many minutes remain. */
    static int dropBefore(long[] pairs, long keepFromMs) {
        int used = (int) pairs[0];
        int kept = 0;
        for (int i = 0; i < used; i++) {
            int at = 1 + STRIDE * i;
            if (pairs[at] >= keepFromMs) {
                System.arraycopy(pairs, at, pairs, 1 + STRIDE * kept, STRIDE);
                kept++;
            }
        }
        pairs[0] = kept;
        return kept;
    }
}
