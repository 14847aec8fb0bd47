/*
 * Stage one of the streaming job: the page requests read from Kafka, parsed and checked once, with
 * their event time; each valid one as a view of its article in its minute, each bad or late one as a
 * dead letter with its reason.
 *
 * Why this file exists: in Flink SQL this stage parsed every event through a function (the payload
 * once for all its fields), checked it in generated code, counted views per article and minute in a
 * two-phase aggregation, and crossed between SQL rows and the window operator's rows three times; it
 * and those crossings were half of the job's time (docs/streaming.md "Throughput"). Here the event is
 * parsed once by a streaming JSON reader in the source and goes straight to the window operator,
 * which counts the minutes itself.
 *
 * The checks and their reasons are the event contract's (core/events.py passes its limits in).
 */
package wikitrends.streaming;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;

/** Reads and checks page requests; the parse, the checks and the operator follow. */
public final class PageRequests {
    /** A view as the window operator counts it: one event is a minute count of one. */
    public static final String[] VIEW_COLUMNS = {
        "project", "title", "minute_ms", "view_count", "desktop_count", "mobile_count"
    };
    /** A dead letter before the sink cuts its payload: the payload as read, and why it was set aside. */
    public static final String[] DEAD_LETTER_COLUMNS = {"payload", "reason"};

    static final String LATE = "late: event time before the watermark";
    private static final long MINUTE_MS = 60_000L;
    static final OutputTag<Row> DEAD_LETTERS =
            new OutputTag<>(
                    "dead-letters",
                    new RowTypeInfo(new TypeInformation<?>[] {Types.STRING, Types.STRING}, DEAD_LETTER_COLUMNS));

    private PageRequests() {}

    /**
     * The page-request topic as views (VIEW_COLUMNS, each with its event time, watermarks from the
     * source); the dead letters are its side output (deadLetters).
     *
     * @param kafka the consumer's settings, bootstrap.servers and security included
     * @param startup "group-offsets" (the earliest offset for a new group), "earliest-offset" or "latest-offset"
     * @param bounded read only up to the offsets at the job's start, then finish
     * @param watermarkDelayMs how far the watermark trails the newest event time
     * @param idleTimeoutMs a partition without events this long no longer holds the watermark back
     */
    public static SingleOutputStreamOperator<Row> read(
            StreamExecutionEnvironment env,
            Properties kafka,
            String topic,
            String groupId,
            String startup,
            boolean bounded,
            long watermarkDelayMs,
            long idleTimeoutMs,
            PageRequestChecks checks) {
        KafkaSourceBuilder<PageRequest> source =
                KafkaSource.<PageRequest>builder()
                        .setProperties(kafka)
                        .setTopics(topic)
                        .setGroupId(groupId)
                        .setStartingOffsets(startingOffsets(startup))
                        .setDeserializer(KafkaRecordDeserializationSchema.valueOnly(new Parse(checks)));
        if (bounded) {
            source.setBounded(OffsetsInitializer.latest());
        }
        WatermarkStrategy<PageRequest> eventTime =
                WatermarkStrategy.<PageRequest>forBoundedOutOfOrderness(Duration.ofMillis(watermarkDelayMs))
                        .withTimestampAssigner((request, kafkaTime) -> request.eventTimeMs)
                        .withIdleness(Duration.ofMillis(idleTimeoutMs));
        TypeInformation<Row> views =
                new RowTypeInfo(
                        new TypeInformation<?>[] {
                            Types.STRING, Types.STRING, Types.LONG, Types.LONG, Types.LONG, Types.LONG
                        },
                        VIEW_COLUMNS);
        return env.fromSource(source.build(), eventTime, "pageviews " + topic)
                .uid("pageviews-source")
                .process(new Check())
                .returns(views)
                .name("parse and check page requests; bad and late ones aside")
                .uid("check-page-requests");
    }

    /** The bad and late page requests of a stream built by read(): rows of DEAD_LETTER_COLUMNS. */
    public static DataStream<Row> deadLetters(
            SingleOutputStreamOperator<Row> views) {
        return views.getSideOutput(DEAD_LETTERS);
    }

    private static OffsetsInitializer startingOffsets(String startup) {
        switch (startup) {
            case "group-offsets":
                return OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
            case "earliest-offset":
                return OffsetsInitializer.earliest();
            case "latest-offset":
                return OffsetsInitializer.latest();
            default:
                throw new IllegalArgumentException("unknown startup mode " + startup);
        }
    }

    /**
     * One message of the topic, parsed: its top-level fields as text (a number's or a boolean's text
     * too, so {"title": 42} is the article "42"; null for a missing field, JSON null, an object or an
     * array), ts as epoch milliseconds when it is an integer, the event time (ts when plausible, else
     * 0: it cannot move the watermark) and its problem, if any.
     */
    public static final class PageRequest {
        public String payload;
        public boolean isObject;
        public Long ts;
        public String project;
        public String title;
        public String access;
        /** 1 when access says the desktop (or the mobile) site, else 0. */
        public long desktop;
        public long mobile;
        public long eventTimeMs;
        public String problem;
    }

    /** The top-level scalar fields ts, project, title and access of a payload that is one JSON object. */
    static PageRequest parse(String payload) {
        PageRequest request = new PageRequest();
        request.payload = payload;
        if (payload == null) {
            return request;
        }
        String ts = null;
        String project = null;
        String title = null;
        String access = null;
        try (JsonParser json = Parse.JSON.createParser(payload)) {
            if (json.nextToken() != JsonToken.START_OBJECT) {
                return request;
            }
            JsonToken token;
            while ((token = json.nextToken()) == JsonToken.FIELD_NAME) {
                String name = json.currentName();
                String text = scalarText(json, json.nextToken());
                // A repeated field keeps its last value, as a JSON object read whole does.
                switch (name) {
                    case "ts":
                        ts = text;
                        break;
                    case "project":
                        project = text;
                        break;
                    case "title":
                        title = text;
                        break;
                    case "access":
                        access = text;
                        break;
                    default:
                        break;
                }
            }
            if (token != JsonToken.END_OBJECT || json.nextToken() != null) {
                return request;
            }
        } catch (IOException notOneObject) {
            return request;
        }
        request.isObject = true;
        request.ts = epochMs(ts);
        request.project = project;
        request.title = title;
        request.access = access;
        return request;
    }

    private static String scalarText(JsonParser json, JsonToken value) throws IOException {
        switch (value) {
            case VALUE_STRING:
                return json.getText();
            case VALUE_NUMBER_INT:
                return json.getNumberValue().toString();
            case VALUE_NUMBER_FLOAT:
                return String.valueOf(json.getDoubleValue());
            case VALUE_TRUE:
                return "true";
            case VALUE_FALSE:
                return "false";
            case START_OBJECT:
            case START_ARRAY:
                json.skipChildren();
                return null;
            default:
                return null;
        }
    }

    /** The text as a whole number of milliseconds (blanks around it allowed), or null. */
    static Long epochMs(String text) {
        if (text == null) {
            return null;
        }
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException notAnInteger) {
            return null;
        }
    }

    /** Kafka's message bytes as a parsed page request (UTF-8; bytes that are not become U+FFFD). */
    static final class Parse implements DeserializationSchema<PageRequest> {
        private static final long serialVersionUID = 1L;
        static final JsonFactory JSON = new JsonFactory();
        private final PageRequestChecks checks;

        Parse(PageRequestChecks checks) {
            this.checks = checks;
        }

        @Override
        public PageRequest deserialize(byte[] message) {
            PageRequest request = parse(message == null ? null : new String(message, StandardCharsets.UTF_8));
            long now = System.currentTimeMillis();
            request.problem = checks.problem(request, now);
            request.eventTimeMs = request.ts != null && checks.plausible(request.ts, now) ? request.ts : 0L;
            request.desktop = checks.desktopViews(request.access);
            request.mobile = checks.mobileViews(request.access);
            return request;
        }

        @Override
        public boolean isEndOfStream(PageRequest next) {
            return false;
        }

        @Override
        public TypeInformation<PageRequest> getProducedType() {
            return TypeInformation.of(PageRequest.class);
        }
    }

    /**
     * A valid page request on time becomes one view of its article in its minute; a bad one, or one
     * whose event time the watermark has passed (its minute may be written already), a dead letter.
     */
    static final class Check extends ProcessFunction<PageRequest, Row> {
        private static final long serialVersionUID = 1L;

        @Override
        public void processElement(PageRequest request, Context context, Collector<Row> out) {
            String reason = request.problem;
            if (reason == null && request.eventTimeMs <= context.timerService().currentWatermark()) {
                reason = LATE;
            }
            if (reason != null) {
                context.output(DEAD_LETTERS, Row.of(request.payload, reason));
                return;
            }
            long minuteMs = request.ts - Math.floorMod(request.ts, MINUTE_MS);
            out.collect(Row.of(request.project, request.title, minuteMs, 1L, request.desktop, request.mobile));
        }
    }
}
