/*
 * PAYLOAD_FIELD(payload, name): a top-level field of a page request's JSON, as JSON_VALUE reads it.
 *
 * Why this file exists: the job reads ts, project and title with JSON_VALUE, and Flink's generated
 * code evaluates each use of a field separately, parsing the whole payload every time: about fifteen
 * parses per event (the watermark's event time, the checks, the counted columns), 57 % of the busiest
 * stage's time in a flame graph (README "Throughput"). This function parses a payload once and
 * answers every later call for the same payload from that parse.
 *
 * What it returns, as JSON_VALUE(payload, '$.name') does: a string field's text, a number's or a
 * boolean's text (so {"title": 42} is the article "42"); NULL for a missing field, JSON null, an
 * object or an array, and for a payload that is not one JSON object (nothing may follow it).
 * streaming/pageviews/job.py registers it; streaming/pageviews/tables.py uses it.
 */
package wikitrends.streaming;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.functions.ScalarFunction;

/** A top-level field of a JSON object as text; each payload is parsed once for all its fields. */
public final class PayloadField extends ScalarFunction {
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    // The last payload seen (a private copy: the caller's object may be reused) and its parse.
    private transient BinaryStringData lastPayload;
    private transient JsonNode lastObject;

    /** The field's text, or NULL (see the file's comment). */
    public @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData payload,
            String name) {
        if (payload == null) {
            return null;
        }
        if (lastPayload == null || !lastPayload.equals(payload)) {
            lastObject = parseObject(payload.toString());
            lastPayload = ((BinaryStringData) payload).copy();
        }
        if (lastObject == null) {
            return null;
        }
        JsonNode value = lastObject.get(name);
        if (value == null || value.isNull() || !value.isValueNode()) {
            return null;
        }
        return StringData.fromString(value.asText());
    }

    /** The payload's JSON object, or null when it is not exactly one JSON object. */
    private static JsonNode parseObject(String payload) {
        try {
            JsonNode node = JSON.readTree(payload);
            return node != null && node.isObject() ? node : null;
        } catch (Exception notJson) {
            return null;
        }
    }
}
