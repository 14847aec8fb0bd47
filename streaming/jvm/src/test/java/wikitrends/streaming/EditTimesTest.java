package wikitrends.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The edit job's event time, as core/edit_events.py reads it. */
class EditTimesTest {
    private static final long T = 1_772_431_200_000L; // 2026-03-02T06:00:00Z

    @Test
    void metaDtFirstThenTheUnixTimestamp() {
        assertEquals(T, EditTimes.eventTimeMs("{\"meta\":{\"dt\":\"2026-03-02T06:00:00Z\"},\"timestamp\":1}"));
        assertEquals(T + 250, EditTimes.eventTimeMs("{\"meta\":{\"dt\":\"2026-03-02T07:00:00.250+01:00\"}}"));
        assertEquals(T, EditTimes.eventTimeMs("{\"meta\":{\"dt\":\"2026-03-02T06:00:00\"}}"), "no offset: UTC");
        assertEquals(T, EditTimes.eventTimeMs("{\"meta\":{},\"timestamp\":1772431200}"));
        assertEquals(T + 500, EditTimes.eventTimeMs("{\"timestamp\":1772431200.5}"));
    }

    @Test
    void anEventWithoutATimeCannotMoveTheWatermark() {
        for (String event : new String[] {"{\"meta\":{\"dt\":\"yesterday\"}}", "{\"timestamp\":\"1\"}", "{}", "[1]", "not json", null}) {
            assertEquals(EditTimes.NO_TIME, EditTimes.eventTimeMs(event), String.valueOf(event));
        }
    }
}
