#!/usr/bin/env bash
# Run one batch job for cron: never two runs of the same job at once, every run logged.
#
#   deploy/cron/run-job.sh anomalies      # the hour that just ended (run at minute 5)
#   deploy/cron/run-job.sh update_averages  # yesterday (run after midnight)
#   deploy/cron/run-job.sh clickstream      # last month's clickstream dumps (run on the 8th)
#
# A run that finds the previous one still going exits at once (exit 75) and
# says so in the log; it does not queue. Logs: $WIKITRENDS_LOG_DIR (default
# <repo>/.stack/logs/batch), one file per job and day. Set WIKITRENDS_SPARK_SUBMIT
# to point at a cluster's spark-submit wrapper; the default is the local stack's.
set -euo pipefail

job="${1:?usage: run-job.sh anomalies|update_averages|clickstream}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
submit="${WIKITRENDS_SPARK_SUBMIT:-$repo/deploy/local/spark-submit}"
log_dir="${WIKITRENDS_LOG_DIR:-$repo/.stack/logs/batch}"
lock_dir="${WIKITRENDS_LOCK_DIR:-$repo/.stack/run}"
mkdir -p "$log_dir" "$lock_dir"

case "$job" in
  anomalies)
    # At minute 5 the hour that just ended is complete: compare hours 0..that hour of its day.
    ended="$(date -u -d '1 hour ago' '+%Y-%m-%d %H')"
    args=(batch/anomalies.py --date "${ended% *}" --hour "$((10#${ended#* }))") ;;
  update_averages)
    args=(batch/update_averages.py --date "$(date -u -d 'yesterday' '+%Y-%m-%d')") ;;
  clickstream)
    # Wikimedia publishes a month's clickstream in the first days of the next: ingest last month's.
    dumps="${WIKITRENDS_CLICKSTREAM_DUMPS:?set WIKITRENDS_CLICKSTREAM_DUMPS to where the monthly dumps land}"
    month="$(date -u -d "$(date -u '+%Y-%m-01') -1 month" '+%Y-%m')"
    args=(batch/clickstream.py --input "$dumps/clickstream-*-$month.tsv.gz") ;;
  *)
    echo "unknown job $job: use anomalies, update_averages or clickstream" >&2; exit 64 ;;
esac

log="$log_dir/$job-$(date -u '+%Y-%m-%d').log"
exec 9>"$lock_dir/batch-$job.lock"
if ! flock --nonblock 9; then
  echo "$(date -u '+%FT%TZ') $job: the previous run still holds $lock_dir/batch-$job.lock; skipping this one" >>"$log"
  exit 75
fi
echo "$(date -u '+%FT%TZ') $job: starting: ${args[*]}" >>"$log"
cd "$repo"
status=0
"$submit" "${args[@]}" >>"$log" 2>&1 || status=$?
echo "$(date -u '+%FT%TZ') $job: finished with exit code $status" >>"$log"
exit "$status"
