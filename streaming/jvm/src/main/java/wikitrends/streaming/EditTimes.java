/*
 * The edit job's event time, read in the JVM from each raw recentchange event as the Kafka source
 * reads it.
 *
 * Why this file exists: with the time assigned in Python, every edit crossed into the Python worker
 * and back once more than its parse, and the job's branches (watched entities, reverts, every edit
 * to the publisher) were Python filters after it, each another crossing (docs/edits.md "Edit job
 * throughput"). With the time and the watermarks from the source, the parse's outputs keep them, and
 * the parse can send each edit to its branches itself.
 *
 * The time is core/edit_events.py's: meta.dt (ISO 8601; without an offset, UTC), else the Unix
 * timestamp in seconds. An event with neither gets no time that could move the watermark; the parse
 * sends it to the dead letters.
 */
package wikitrends.streaming;

import org.apache.flink.api.common.eventtime.SerializableTimestampAssigner;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.time.Duration;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/** Event time and watermarks of the raw edit stream. */
public final class EditTimes implements SerializableTimestampAssigner<String> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What an event without a readable time gets: it cannot move the watermark. */
    static final long NO_TIME = Long.MIN_VALUE;

    /**
     * The edit source's watermark strategy.
     *
     * @param delayMs how far the watermark trails the newest event time
     * @param idleTimeoutMs a partition without events this long no longer holds the watermark back
     */
    public static WatermarkStrategy<String> strategy(long delayMs, long idleTimeoutMs) {
        return WatermarkStrategy.<String>forBoundedOutOfOrderness(Duration.ofMillis(delayMs))
                .withTimestampAssigner(new EditTimes())
                .withIdleness(Duration.ofMillis(idleTimeoutMs));
    }

    @Override
    public long extractTimestamp(String event, long kafkaTime) {
        return eventTimeMs(event);
    }

    /** The event's time in epoch milliseconds, or NO_TIME. */
    static long eventTimeMs(String event) {
        JsonNode root;
        try {
            root = event == null ? null : JSON.readTree(event);
        } catch (Exception notJson) {
            return NO_TIME;
        }
        if (root == null || !root.isObject()) {
            return NO_TIME;
        }
        JsonNode dt = root.path("meta").path("dt");
        if (dt.isTextual()) {
            return isoTimeMs(dt.asText());
        }
        JsonNode timestamp = root.get("timestamp");
        if (timestamp != null && timestamp.isNumber()) {
            return (long) (timestamp.asDouble() * 1000);
        }
        return NO_TIME;
    }

    private static long isoTimeMs(String text) {
        try {
            return OffsetDateTime.parse(text).toInstant().toEpochMilli();
        } catch (DateTimeParseException noOffset) {
            try {
                return LocalDateTime.parse(text).toInstant(ZoneOffset.UTC).toEpochMilli();
            } catch (DateTimeParseException notATime) {
                return NO_TIME;
            }
        }
    }
}
