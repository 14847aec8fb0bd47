"""The local stack's manager, behind deploy/local/stack.py (its CLI) and deploy/local/run.py.

    layout.py     where each thing lives under the stack home; errors and messages
    steps.py      long install steps with progress, stamps that skip what is current
    install.py    the virtual environment, Maven jars, MinIO, Debian packages, flink-python on loopback
    configs.py    Kafka's and Flink's configuration, from the templates in deploy/kafka and deploy/flink
    pids.py       processes started in their own session and stopped by the pid in their file
    services.py   the declarative service table: how each server starts and how it answers
    control.py    start, stop and status of the services, then topics and the bucket

Standard library only at import time: the CLI imports it before the project's
virtual environment exists.
"""
