#!/usr/bin/env bash
# The cluster suite: the cluster layout (configs/cluster.toml: three Kafka brokers, a Flink JobManager with
# high availability and two TaskManagers, state on S3, Spark standalone) started, the end-to-end tests run
# on it against the oracle, then the faults and the rescale, and the layout stopped if this run started it.
# Installs whatever is missing first, so it works on a fresh clone. `make test` runs it last.
set -euo pipefail
cd "$(dirname "$0")/../.."
export WIKITRENDS_CONFIG="$PWD/configs/cluster.toml"

stack() { python3 deploy/local/stack.py "$@"; }

echo "== install (skips what is already current)"
stack install
home=$(python3 -c 'from core.config import load_settings; print(load_settings().stack.home_path)')
state=$(python3 -c 'from core.config import load_settings; print(load_settings().stack.state_path)')
py="$home/venv/bin/python"

if stack status >/dev/null 2>&1; then
  echo "== the cluster layout is already running; it is left running afterwards"
else
  echo "== starting the cluster layout"
  trap 'echo "== stopping the cluster layout this run started"; stack stop' EXIT
  stack start
fi

status=0
echo "== on the cluster layout: its shape and security, the streaming, edit and batch jobs against the oracle"
# The batch tests that run each job (backfill, anomalies, the daily fold) with spark-submit on the
# standalone master and in the tests' own session on it; the one-machine suite runs all of them. The edit
# job's tests bring the bot detector (Spark reading Kafka) and the site's watch list.
"$py" -m pytest tests/cluster tests/integration/test_streaming.py tests/integration/test_batch.py \
  tests/integration/test_edits.py \
  -k "not test_batch.py or backfill or injected or folding" -q -m "not disturbs_stack" --durations=5 || status=$?
echo "== on the cluster layout: a broker, a TaskManager and the JobManager lost, and a rescale"
"$py" -m pytest tests/cluster -q -m disturbs_stack --durations=0 || status=$?
if [ -f "$state/runs/cluster-faults.json" ]; then
  echo "== what each event did ($state/runs/cluster-faults.json)"
  cat "$state/runs/cluster-faults.json"
fi
exit "$status"
