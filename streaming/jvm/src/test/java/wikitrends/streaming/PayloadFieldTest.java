package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.apache.flink.table.data.StringData;
import org.junit.jupiter.api.Test;

/** PAYLOAD_FIELD as the job's SQL calls it: a top-level field as text, NULL where JSON_VALUE gives NULL. */
class PayloadFieldTest {
    private final PayloadField field = new PayloadField();

    private String eval(String payload, String name) {
        StringData value = field.eval(payload == null ? null : StringData.fromString(payload), name);
        return value == null ? null : value.toString();
    }

    @Test
    void readsTopLevelScalarsAsText() {
        String event = "{\"ts\":1772431200000,\"project\":\"en.wikipedia\",\"title\":\"Tōkyō \\\"Tower\\\"\",\"bot\":true}";
        assertEquals("1772431200000", eval(event, "ts"));
        assertEquals("en.wikipedia", eval(event, "project"));
        assertEquals("Tōkyō \"Tower\"", eval(event, "title"));
        assertEquals("true", eval(event, "bot"));
    }

    @Test
    void givesNullForWhatIsNotAScalarField() {
        String event = "{\"a\":null,\"b\":{\"c\":1},\"d\":[1,2]}";
        assertNull(eval(event, "a"));
        assertNull(eval(event, "b"));
        assertNull(eval(event, "d"));
        assertNull(eval(event, "missing"));
        assertNull(eval(null, "a"));
    }

    @Test
    void givesNullForAPayloadThatIsNotOneJsonObject() {
        assertNull(eval("[1,2]", "a"));
        assertNull(eval("not json", "a"));
        assertNull(eval("{\"a\":1} {\"a\":2}", "a"));
        assertNull(eval("\"text\"", "a"));
    }

    @Test
    void eachPayloadIsReadOnItsOwnWhateverCameBefore() {
        assertEquals("1", eval("{\"a\":1}", "a"));
        assertEquals("2", eval("{\"a\":2}", "a"));
        assertEquals("2", eval("{\"a\":2}", "a"));
        assertNull(eval("{}", "a"));
    }
}
