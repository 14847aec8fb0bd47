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

    /** The record's value: {"project":…,"title":…,"window_start":…,"window_end":…,"count":…}. */
    static String json(String project, String title, long windowStart, long windowEnd, long count) {
        String[] names = SlidingWindowCounts.WINDOW_COLUMNS;
        StringBuilder out = new StringBuilder(64 + title.length());
        out.append('{');
        quote(out, names[0]);
        out.append(':');
        quote(out, project);
        out.append(',');
        quote(out, names[1]);
        out.append(':');
        quote(out, title);
        out.append(',');
        quote(out, names[2]);
        out.append(':').append(windowStart).append(',');
        quote(out, names[3]);
        out.append(':').append(windowEnd).append(',');
        quote(out, names[5]);
        out.append(':').append(count).append('}');
        return out.toString();
    }

    /** A JSON string: quotes, backslashes and control characters escaped, the rest as it is (UTF-8). */
    static void quote(StringBuilder out, String text) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
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
