package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.streaming.api.operators.ProcessOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Parsing and checking page requests, and the operator that sets bad and late ones aside. */
class PageRequestsTest {
    private static final long T = 1_772_431_200_000L; // 2026-03-02T06:00:00Z
    private static final String FORBIDDEN_REASON = "title contains control characters, or bytes or escapes that are not UTF-8";
    // core/events.py's limits, as streaming/pageviews/tables.py passes them.
    private static final PageRequestChecks CHECKS =
            new PageRequestChecks(
                    978_307_200_000L,
                    5 * 60_000L,
                    64,
                    255,
                    "[\\x00-\\x1f\\x7f\\uFFFD\\uD800-\\uDFFF]",
                    FORBIDDEN_REASON,
                    "desktop",
                    new String[] {"mobile-web", "mobile-app"});

    private static PageRequests.PageRequest read(String payload) {
        return read(payload == null ? null : payload.getBytes(StandardCharsets.UTF_8));
    }

    private static PageRequests.PageRequest read(byte[] message) {
        return new PageRequests.Parse(CHECKS).deserialize(message);
    }

    private static String event(String fields) {
        return "{\"ts\":" + (T + 17_000) + "," + fields + "}";
    }

    @Test
    void readsTopLevelScalarsAsText() {
        PageRequests.PageRequest request =
                read("{\"ts\":1772431200000,\"project\":\"en.wikipedia\",\"title\":\"Tōkyō \\\"Tower\\\"\",\"bot\":{\"a\":[1]},\"access\":\"desktop\"}");
        assertEquals(1_772_431_200_000L, request.ts);
        assertEquals("en.wikipedia", request.project);
        assertEquals("Tōkyō \"Tower\"", request.title);
        assertEquals(1, request.desktop);
        assertEquals(0, request.mobile);
        assertNull(request.problem);
        assertEquals(T, request.eventTimeMs);
        assertEquals("42", PageRequests.parse("{\"title\":42}").title, "a number's text is the article");
        assertEquals("true", PageRequests.parse("{\"title\":true}").title);
        assertEquals("b", PageRequests.parse("{\"title\":\"a\",\"title\":\"b\"}").title, "a repeated field: the last");
    }

    @Test
    void givesNullForWhatIsNotAScalarField() {
        PageRequests.PageRequest request = PageRequests.parse("{\"ts\":null,\"project\":{\"c\":1},\"title\":[1,2]}");
        assertTrue(request.isObject);
        assertNull(request.ts);
        assertNull(request.project);
        assertNull(request.title);
        assertNull(request.access);
    }

    @Test
    void aPayloadThatIsNotOneJsonObjectIsNoObject() {
        for (String payload : new String[] {"[1,2]", "not json", "{\"a\":1} {\"a\":2}", "\"text\"", "{\"a\":1", "", null}) {
            assertFalse(PageRequests.parse(payload).isObject, String.valueOf(payload));
        }
        assertEquals("not a JSON object", read("[1,2]").problem);
        assertEquals("not a JSON object", read((byte[]) null).problem, "an empty Kafka record");
    }

    @Test
    void tsIsAWholeNumberOfMillisecondsAsNumberOrText() {
        assertEquals(T, PageRequests.parse("{\"ts\":\" " + T + " \"}").ts);
        assertNull(PageRequests.parse("{\"ts\":1.7724312E12}").ts);
        assertNull(PageRequests.parse("{\"ts\":\"soon\"}").ts);
        assertNull(PageRequests.parse("{\"ts\":99999999999999999999999}").ts);
    }

    @Test
    void eachProblemHasItsReasonAndABadTimeCannotMoveTheWatermark() {
        long now = System.currentTimeMillis();
        assertEquals("ts missing or not a number", read("{\"project\":\"en.wikipedia\",\"title\":\"A\"}").problem);
        PageRequests.PageRequest ahead = read("{\"ts\":" + (now + 3_600_000L) + ",\"project\":\"en.wikipedia\",\"title\":\"A\"}");
        assertEquals("ts outside 2001-01-01 .. now + 5 min", ahead.problem);
        assertEquals(0, ahead.eventTimeMs, "an absurd time is event time 0");
        assertEquals("ts outside 2001-01-01 .. now + 5 min", read("{\"ts\":1772431200,\"project\":\"p\",\"title\":\"A\"}").problem);
        assertEquals("project missing", read(event("\"project\":\"  \",\"title\":\"A\"")).problem);
        assertEquals("project longer than 64 characters", read(event("\"project\":\"" + "p".repeat(65) + "\",\"title\":\"A\"")).problem);
        assertEquals("title missing", read(event("\"project\":\"en.wikipedia\"")).problem);
        assertEquals("title longer than 255 characters", read(event("\"project\":\"p\",\"title\":\"" + "t".repeat(256) + "\"")).problem);
        // Characters, not UTF-16 units: 255 emoji are a title of 255 characters.
        assertNull(read(event("\"project\":\"p\",\"title\":\"" + "\uD83D\uDE00".repeat(255) + "\"")).problem);
        assertEquals(FORBIDDEN_REASON, read(event("\"project\":\"p\",\"title\":\"A\\u0007B\"")).problem);
        assertEquals(FORBIDDEN_REASON, read(event("\"project\":\"p\",\"title\":\"A\\ud800\"")).problem, "a lone surrogate");
        byte[] notUtf8 = event("\"project\":\"p\",\"title\":\"A_B\"").getBytes(StandardCharsets.UTF_8);
        notUtf8[notUtf8.length - 4] = (byte) 0xC3; // the "_" becomes a broken two-byte sequence
        assertEquals(FORBIDDEN_REASON, read(notUtf8).problem);
        PageRequests.PageRequest mobile = read(event("\"project\":\"p\",\"title\":\"A\",\"access\":\"mobile-app\""));
        assertEquals(0, mobile.desktop);
        assertEquals(1, mobile.mobile);
    }

    @Test
    void validRequestsBecomeViewsOfTheirMinuteAndBadOrLateOnesDeadLetters() throws Exception {
        try (var h = new OneInputStreamOperatorTestHarness<>(new ProcessOperator<>(new PageRequests.Check()))) {
            h.open();
            String valid = event("\"project\":\"en.wikipedia\",\"title\":\"Moon\",\"access\":\"desktop\"");
            PageRequests.PageRequest request = read(valid);
            h.processElement(new StreamRecord<>(request, request.eventTimeMs));
            PageRequests.PageRequest bad = read("{\"title\":1}");
            h.processElement(new StreamRecord<>(bad, bad.eventTimeMs));
            h.processWatermark(new Watermark(T + 17_000));
            // At the watermark: Flink's windows would drop it, so it is late.
            h.processElement(new StreamRecord<>(request, request.eventTimeMs));
            List<Row> views = new ArrayList<>();
            for (Object element : h.getOutput()) {
                if (element instanceof StreamRecord) {
                    views.add((Row) ((StreamRecord<?>) element).getValue());
                }
            }
            assertEquals(List.of(Row.of("en.wikipedia", "Moon", T, 1L, 1L, 0L)), views);
            List<String> deadLetters = new ArrayList<>();
            for (StreamRecord<Row> letter : h.getSideOutput(PageRequests.DEAD_LETTERS)) {
                deadLetters.add(letter.getValue().getField(1) + ": " + letter.getValue().getField(0));
            }
            assertEquals(List.of("ts missing or not a number: {\"title\":1}", PageRequests.LATE + ": " + valid), deadLetters);
        }
    }
}
