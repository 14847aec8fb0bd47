/*
 * The window rows to the ten window topics, exactly-once, serialized here instead of by Flink SQL.
 *
 * Why this file exists: the window stage is the job's busiest (docs/streaming.md "Throughput"), and
 * a SQL sink made every window row cross twice between the operator's rows and SQL's (a DataStream
 * round trip) before Flink's JSON format wrote it. The topic contract is unchanged (docs/architecture.md):
 * key = the title (UTF-8), value = {"project", "title", "window_start", "window_end", "count"}, the
 * topic by the window start's minute digit.
 */
package wikitrends.streaming;

import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.types.Row;
import org.apache.kafka.clients.producer.ProducerRecord;

import java.nio.charset.StandardCharsets;
import java.util.Properties;

/** Writes the window rows of SlidingWindowCounts.windows() to their topics. */
public final class WindowTopics {
    private WindowTopics() {}

    /**
     * Adds the exactly-once Kafka sink of the window topics.
     *
     * @param windows rows of SlidingWindowCounts.WINDOW_COLUMNS
     * @param topicPrefix a row goes to topicPrefix + digit
     * @param transactionalIdPrefix the Kafka transactions' id prefix (one per sink of a job)
     * @param producerConfig the producer's settings, bootstrap.servers included
     */
    public static void write(
            DataStream<Row> windows, String topicPrefix, String transactionalIdPrefix, Properties producerConfig) {
        KafkaSink<Row> sink =
                KafkaSink.<Row>builder()
                        .setKafkaProducerConfig(producerConfig)
                        .setBootstrapServers(producerConfig.getProperty("bootstrap.servers"))
                        .setRecordSerializer(new WindowRecords(topicPrefix))
                        .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                        .setTransactionalIdPrefix(transactionalIdPrefix)
                        .build();
        windows.sinkTo(sink).name("window topics " + topicPrefix + "{d} (exactly-once)").uid("window-topics");
    }

    /** A window row as its topic's record. */
    static final class WindowRecords implements KafkaRecordSerializationSchema<Row> {
        private static final long serialVersionUID = 1L;
        private final String topicPrefix;

        WindowRecords(String topicPrefix) {
            this.topicPrefix = topicPrefix;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(Row row, KafkaSinkContext context, Long timestamp) {
            String title = (String) row.getField(1);
            String value =
                    json((String) row.getField(0), title, (Long) row.getField(2), (Long) row.getField(3), (Long) row.getField(5));
            return new ProducerRecord<>(
                    topicPrefix + row.getField(4),
                    title.getBytes(StandardCharsets.UTF_8),
                    value.getBytes(StandardCharsets.UTF_8));
        }
    }

    // The value's constant parts, the field names quoted once (SlidingWindowCounts.WINDOW_COLUMNS).
    private static final String[] NAMES = SlidingWindowCounts.WINDOW_COLUMNS;
    private static final String PROJECT = "{" + quoted(NAMES[0]) + ":";
    private static final String TITLE = "," + quoted(NAMES[1]) + ":";
    private static final String WINDOW_START = "," + quoted(NAMES[2]) + ":";
    private static final String WINDOW_END = "," + quoted(NAMES[3]) + ":";
    private static final String COUNT = "," + quoted(NAMES[5]) + ":";

    /** The record's value: {"project":…,"title":…,"window_start":…,"window_end":…,"count":…}. */
    static String json(String project, String title, long windowStart, long windowEnd, long count) {
        StringBuilder out = new StringBuilder(96 + title.length());
        out.append(PROJECT);
        quote(out, project);
        out.append(TITLE);
        quote(out, title);
        out.append(WINDOW_START).append(windowStart);
        out.append(WINDOW_END).append(windowEnd);
        out.append(COUNT).append(count).append('}');
        return out.toString();
    }

    private static String quoted(String text) {
        StringBuilder out = new StringBuilder();
        quote(out, text);
        return out.toString();
    }

    /** A JSON string: quotes, backslashes and control characters escaped, the rest as it is (UTF-8). */
    static void quote(StringBuilder out, String text) {
        out.append('"');
        int length = text.length();
        int clean = 0;
        // Most titles need no escape: find the first character that does and copy up to it at once.
        while (clean < length) {
            char c = text.charAt(clean);
            if (c == '"' || c == '\\' || c < 0x20) {
                break;
            }
            clean++;
        }
        out.append(text, 0, clean);
        for (int i = clean; i < length; i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }
}
