#!/usr/bin/env bash
# Runs every test on this machine: lint, unit tests, then the integration and
# end-to-end suites against the real local stack, started once and shared, then
# the cluster suite on the cluster layout (deploy/local/test-cluster.sh).
# Installs whatever is missing first, so it works on a fresh clone.
# A stack that was already running is left running; one this script started is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."

stack() { python3 deploy/local/stack.py "$@"; }

echo "== install (skips what is already current)"
stack install --test-tools  # and Chromium with its driver, wrk, a CJK font
home=$(python3 -c 'from core.config import load_settings; print(load_settings().stack.home_path)')
py="$home/venv/bin/python"

# The stack starts in the background while the fast tests run (they need none of it).
started=""
if stack status >/dev/null 2>&1; then
  echo "== the stack is already running; it is left running afterwards"
else
  echo "== starting the local stack in the background (log: $home/logs/stack-start.log)"
  mkdir -p "$home/logs"
  stack start >"$home/logs/stack-start.log" 2>&1 &
  started=$!
  # Whatever happens, the stack this run started is stopped (once its start is over).
  trap 'wait "$started" 2>/dev/null || true; echo "== stopping the stack this run started"; stack stop' EXIT
fi

echo "== lint"
"$py" -m ruff check .
"$py" -m ruff format --check .

echo "== unit tests (pure logic, no services)"
"$py" -m pytest tests/unit -q

echo "== JVM operator tests (streaming/jvm on Flink's operator test harness)"
mvn -B -ntp -Dstyle.color=never -f streaming/jvm/pom.xml -Dmaven.repo.local="$home/m2" \
  -Dwikitrends.build="$home/build/streaming-operators-test" test | grep -E "Tests run:|BUILD|ERROR|FAIL"

if [ -n "$started" ]; then
  echo "== waiting for the local stack"
  if ! wait "$started"; then
    cat "$home/logs/stack-start.log"
    exit 1
  fi
  tail -n 12 "$home/logs/stack-start.log"
fi

echo "== integration and end-to-end tests (real Kafka, Flink, Spark, Redis, S3, Chromium)"
# Most of their time is spent waiting on the services, so the tests that leave the stack alone run
# two at a time (one test file per worker); those that stop, kill or restart a service run alone after.
status=0
"$py" -m pytest tests/integration -q -m "not disturbs_stack" -n 2 --dist loadfile --durations=8 || status=$?
echo "== the tests that stop, kill or restart a service of the stack, one at a time"
"$py" -m pytest tests/integration -q -m disturbs_stack --durations=0 || status=$?

if [ -n "$started" ]; then
  echo "== stopping the local stack: the cluster layout runs next, in its memory"
  trap - EXIT
  stack stop
fi
echo "== the cluster suite (deploy/local/test-cluster.sh: the cluster layout, started and stopped)"
bash deploy/local/test-cluster.sh || status=$?
exit "$status"
