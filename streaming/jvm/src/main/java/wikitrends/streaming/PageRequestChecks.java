/*
 * The checks of the page-request contract (core/events.py passes its limits in), and the reason a
 * dead letter gives for each.
 */
package wikitrends.streaming;

import java.io.Serializable;
import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * What makes a page request valid (core/events.py's limits), and the reason given when it is not.
 */
public final class PageRequestChecks implements Serializable {
    private static final long serialVersionUID = 1L;

    final long minPlausibleTsMs;
    final long maxFutureMs;
    final int maxProjectChars;
    final int maxTitleChars;
    final String forbiddenInTitles;
    final String forbiddenReason;
    final String desktop;
    final String[] mobile;
    private transient Pattern forbidden;

    /**
     * @param minPlausibleTsMs the earliest event time accepted
     * @param maxFutureMs how far ahead of the clock an event time may be
     * @param maxProjectChars, maxTitleChars the longest project and title (characters)
     * @param forbiddenInTitles a regular expression of what a title cannot hold, and forbiddenReason its reason
     * @param desktop, mobile the access values of the desktop and the mobile sites
     */
    public PageRequestChecks(
            long minPlausibleTsMs,
            long maxFutureMs,
            int maxProjectChars,
            int maxTitleChars,
            String forbiddenInTitles,
            String forbiddenReason,
            String desktop,
            String[] mobile) {
        this.minPlausibleTsMs = minPlausibleTsMs;
        this.maxFutureMs = maxFutureMs;
        this.maxProjectChars = maxProjectChars;
        this.maxTitleChars = maxTitleChars;
        this.forbiddenInTitles = forbiddenInTitles;
        this.forbiddenReason = forbiddenReason;
        this.desktop = desktop;
        this.mobile = Arrays.copyOf(mobile, mobile.length);
    }

    boolean plausible(long ts, long nowMs) {
        return ts >= minPlausibleTsMs && ts <= nowMs + maxFutureMs;
    }

    /** Why the request is not a valid page request at nowMs, or null when it is. */
    String problem(PageRequests.PageRequest request, long nowMs) {
        if (request.ts == null) {
            return request.isObject ? "ts missing or not a number" : "not a JSON object";
        }
        if (!plausible(request.ts, nowMs)) {
            return "ts outside 2001-01-01 .. now + " + maxFutureMs / 60_000L + " min";
        }
        if (blank(request.project)) {
            return "project missing";
        }
        if (chars(request.project) > maxProjectChars) {
            return "project longer than " + maxProjectChars + " characters";
        }
        if (blank(request.title)) {
            return "title missing";
        }
        if (chars(request.title) > maxTitleChars) {
            return "title longer than " + maxTitleChars + " characters";
        }
        if (forbidden().matcher(request.title).find()) {
            return forbiddenReason;
        }
        return null;
    }

    private Pattern forbidden() {
        if (forbidden == null) {
            forbidden = Pattern.compile(forbiddenInTitles);
        }
        return forbidden;
    }

    long desktopViews(String access) {
        return desktop.equals(access) ? 1 : 0;
    }

    long mobileViews(String access) {
        for (String value : mobile) {
            if (value.equals(access)) {
                return 1;
            }
        }
        return 0;
    }

    private static boolean blank(String text) {
        if (text == null) {
            return true;
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) != ' ') {
                return false;
            }
        }
        return true;
    }

    private static int chars(String text) {
        return text.codePointCount(0, text.length());
    }
}
