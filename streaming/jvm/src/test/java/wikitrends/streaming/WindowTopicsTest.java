package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.flink.types.Row;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

/** The window topics' records: topic by digit, key = title, the JSON value of the contract. */
class WindowTopicsTest {

    @Test
    void aWindowRowGoesToTheTopicOfItsDigitKeyedByTitle() {
        Row row = Row.of("ja.wikipedia", "東京", 1_772_431_200_000L, 1_772_431_800_000L, 0, 42L);
        ProducerRecord<byte[], byte[]> record =
                new WindowTopics.WindowRecords("pageviews-windows-").serialize(row, null, null);
        assertEquals("pageviews-windows-0", record.topic());
        assertArrayEquals("東京".getBytes(StandardCharsets.UTF_8), record.key());
        assertEquals(
                "{\"project\":\"ja.wikipedia\",\"title\":\"東京\",\"window_start\":1772431200000,"
                        + "\"window_end\":1772431800000,\"count\":42}",
                new String(record.value(), StandardCharsets.UTF_8));
    }

    @Test
    void titlesAreEscapedAsJsonStrings() {
        StringBuilder out = new StringBuilder();
        WindowTopics.quote(out, "a\"b\\c\u0001d\n</script>");
        assertEquals("\"a\\\"b\\\\c\\u0001d\\u000a</script>\"", out.toString());
    }
}
