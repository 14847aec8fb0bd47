# Entry points for people; each target is a thin call into deploy/local/.
PYTHON ?= python3

.PHONY: help run up status down install test test-cluster lint format bench soak

# PROFILE=cluster: the same targets on the cluster layout (configs/cluster.toml: three Kafka brokers,
# Flink with two TaskManagers and state on S3, Spark standalone).
export WIKITRENDS_CONFIG := $(if $(PROFILE),$(CURDIR)/configs/$(PROFILE).toml,$(WIKITRENDS_CONFIG))

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run:  ## install what is missing and bring the whole system up (SOURCE=wikipedia WIKIS=en,de: real traffic)
	$(PYTHON) deploy/local/run.py $(if $(SOURCE),--source $(SOURCE)) $(if $(WIKIS),--wikis $(WIKIS))

up:  ## start the local stack only (Redis, MinIO, Kafka, Flink; PROFILE=cluster: the cluster layout)
	$(PYTHON) deploy/local/stack.py start

status:  ## show what runs, where, and its memory
	$(PYTHON) deploy/local/stack.py status

down:  ## stop the site, the producer and the streaming job, then the stack, by process id
	$(PYTHON) deploy/local/run.py stop

install:  ## download and build everything, start nothing
	$(PYTHON) deploy/local/stack.py install

test:  ## lint, unit tests, then integration tests against the real stack
	bash deploy/local/test.sh

test-cluster:  ## the cluster suite: the cluster layout started, tested against the oracle, stopped
	bash deploy/local/test-cluster.sh

lint:  ## ruff check and format check
	.stack/venv/bin/ruff check . && .stack/venv/bin/ruff format --check .

format:  ## ruff format and autofix
	.stack/venv/bin/ruff format . && .stack/venv/bin/ruff check --fix .

bench:  ## benchmarks against the real stack (the stack must be up: make up)
	.stack/venv/bin/python bench/producer_throughput.py
	.stack/venv/bin/python bench/streaming_throughput.py
	.stack/venv/bin/python bench/anomalies_vs_numpy.py --full-join
	.stack/venv/bin/python bench/anomaly_quality.py
	.stack/venv/bin/python bench/trending_quality.py
	.stack/venv/bin/python bench/web_throughput.py
	.stack/venv/bin/python bench/clickstream_ingest.py
	.stack/venv/bin/python bench/edit_throughput.py
	.stack/venv/bin/python bench/bot_detection.py
	.stack/venv/bin/python bench/wikipedia_source.py

soak:  ## the live system for two hours at 3,000 events/s with the batch jobs beside it (the stack must be up)
	.stack/venv/bin/python bench/soak.py --minutes 120 --rate 3000
