"""Publishing snapshots to Redis: the jobs' side of core.snapshots.

One atomic script per snapshot: stored under its own key, indexed, pruned to the
retention, and "latest" moved forward only (core/snapshots.py lists the keys).
"""

from __future__ import annotations

from core.contracts import Keys
from core.settings import RedisSettings
from core.snapshots import AnomalySnapshot, TrendingSnapshot, encode
from core.windows import MINUTE_MS

# Writes the snapshot under its own key, indexes it, prunes what fell out of
# the retention, and moves "latest" forward only: all in one atomic script.
# KEYS: snapshot key, latest key, latest-marker key, index key (or "" for none)
# ARGV: document, position (ms), oldest position to keep (ms), key prefix of indexed snapshots
_PUBLISH = """
redis.call('SET', KEYS[1], ARGV[1])
if KEYS[4] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[2])
  local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3])
  for _, position in ipairs(old) do redis.call('DEL', ARGV[4] .. position) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3])
end
local current = redis.call('GET', KEYS[3])
if (not current) or tonumber(current) <= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('SET', KEYS[3], ARGV[2])
  return 1
end
return 0
"""


class SnapshotWriter:
    """Publishes snapshots through a synchronous redis-py client (the jobs' side)."""

    def __init__(self, client, redis_settings: RedisSettings) -> None:
        self.client = client
        self.keys = Keys(redis_settings)
        self._publish = client.register_script(_PUBLISH)

    def write_trending(self, snapshot: TrendingSnapshot, retention_minutes: int) -> bool:
        """Store one minute's list; True when it became the latest."""
        oldest = snapshot.minute - retention_minutes * MINUTE_MS
        prefix = self.keys.trending_minute(0)[:-1]
        keys = [
            self.keys.trending_minute(snapshot.minute),
            self.keys.trending_latest,
            self.keys.trending_latest_minute,
            self.keys.trending_index,
        ]
        return bool(self._publish(keys=keys, args=[encode(snapshot), snapshot.minute, oldest, prefix]))

    def write_anomalies(self, snapshot: AnomalySnapshot) -> bool:
        """Store one hour's anomaly list; True when it became the latest."""
        keys = [
            self.keys.anomalies_hour(snapshot.hour_start),
            self.keys.anomalies_latest,
            self.keys.anomalies_latest_hour,
            "",
        ]
        return bool(self._publish(keys=keys, args=[encode(snapshot), snapshot.hour_start, 0, ""]))
