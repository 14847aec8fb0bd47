#!/usr/bin/env python3
"""Install, start, check and stop the local stack: Redis, MinIO (S3), Kafka and Flink.

Everything it downloads, builds and stores lives under the stack home
(``.stack/`` by default, see configs/local.toml), so a second start is fast and
removing that folder resets the machine. Every service listens on loopback only.

    python3 deploy/local/stack.py install          # downloads and builds, nothing started
    python3 deploy/local/stack.py start            # install what is missing, start, provision
    python3 deploy/local/stack.py status           # what runs, where, and its memory
    python3 deploy/local/stack.py stop [SERVICE]   # stop what start started, by process id

Each subcommand has its own --help. Run with the machine's Python 3.11; once
the project's virtual environment exists, the script re-runs itself inside
it. The work is done by the stack_manager package beside this file.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from core.config import LOCAL_CREDENTIALS_FILE, ConfigError, load_settings  # noqa: E402
from stack_manager import configs, debian, install  # noqa: E402
from stack_manager.control import Stack, provision  # noqa: E402
from stack_manager.layout import Layout, StackError, say  # noqa: E402
from stack_manager.security import ensure_bucket, write_local_credentials  # noqa: E402

# `stop` runs on the machine's Python as it is (it must work even if the environment is broken), and
# the installs need no venv; `stop` and `status` never generate credentials.
NO_VENV = {"stop", "install", "install-test-tools"}
# Commands that install what is missing first: before entering the venv, so that its creation runs
# beside the longer steps. The process re-entered in the venv is told, so it does not check again.
INSTALLS_FIRST = {"install", "start", "restart"}
INSTALLED = "STACK_PY_INSTALLED"
NO_CREDENTIALS = {"stop", "status"}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        description="Install, start, check and stop the local stack (Redis, MinIO, Kafka, Flink).",
        epilog="All files live under the stack home (configs/local.toml [stack] home, default .stack/). "
        "`stack.py SUBCOMMAND --help` says more.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def command(name: str, what: str, **options) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=what, description=what, **options)

    install_command = command("install", "Download and build everything; start nothing.")
    install_command.add_argument(
        "--test-tools", action="store_true", help="also what only the tests need (as install-test-tools)"
    )
    command("install-test-tools", "What only the tests need: Chromium and its driver, wrk, a CJK font.")
    command(
        "start", "Install what is missing, start every service that is down, create the topics and bucket."
    )
    command(
        "provision",
        "Create the pipeline's topics and bucket on the configured Kafka and S3 (also a real cluster's: "
        "WIKITRENDS_CONFIG), with [kafka] partitions, replication_factor and min_insync_replicas.",
    )
    command("status", "The pid, memory and address of each service; exit 1 if any is down.")
    stop = command("stop", "Stop every service, or the ones named, by process id (SIGKILL after 60 s).")
    stop.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help="a service's name, such as redis or kafka (a wrong name is answered with the list of names)",
    )
    command("restart", "Stop, then start.")
    for name, what in [
        (
            "flink",
            "The `flink` CLI against the local cluster (e.g. flink run -py streaming/pageviews/job.py).",
        ),
        ("spark-submit", "The venv's spark-submit with the s3a jars, master and memory (later options win)."),
    ]:
        passthrough = command(name, what, add_help=False)  # its --help is the tool's own
        passthrough.add_argument("arguments", nargs=argparse.REMAINDER, help=f"arguments for {name}")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        layout = Layout.of(settings)
        generated = (
            [] if args.command in NO_CREDENTIALS else write_local_credentials(layout.state_home, settings)
        )
        if generated:
            where = layout.state_home / LOCAL_CREDENTIALS_FILE
            say(f"Generated credentials ({', '.join(generated)}) in {where}")
            settings = load_settings()
        if args.command in INSTALLS_FIRST and not os.environ.get(INSTALLED):
            install.install(layout, test_tools=getattr(args, "test_tools", False))
            os.environ[INSTALLED] = "1"  # inherited through execv below
        if args.command not in NO_VENV and not install.in_venv(layout):
            install.ensure_venv(layout)
            os.execv(str(layout.venv_python), [str(layout.venv_python), __file__, *sys.argv[1:]])
        return run(args, settings, layout)
    except (StackError, ConfigError) as error:
        say(f"ERROR: {error}")
        return 1
    except KeyboardInterrupt:
        say("Interrupted.")
        return 130


def run(args: argparse.Namespace, settings, layout: Layout) -> int:
    """Carry out one subcommand."""
    stack = Stack(settings)
    if args.command == "install":  # done before (main)
        say("Everything is installed.")
    elif args.command == "install-test-tools":
        debian.install_test_tools(layout)
        say("The test tools are installed.")
    elif args.command in ("start", "restart"):
        if args.command == "restart":
            stack.stop()
        began = time.monotonic()
        stack.start()  # what it runs was installed before (main)
        say(f"Stack is up in {time.monotonic() - began:.0f} s:")
        stack.status()
    elif args.command == "provision":
        ensure_bucket(settings)
        provision(settings)
        say("The topics and the bucket are there.")
    elif args.command == "stop":
        stack.stop(args.services)
    elif args.command == "status":
        return 0 if stack.status() else 1
    elif args.command == "flink":
        flink = install.flink_home() / "bin" / "flink"
        os.execve(str(flink), [str(flink), *args.arguments], dict(os.environ, **configs.flink_env(layout)))
    elif args.command == "spark-submit":
        submit, defaults, env = configs.spark_submit(settings, layout)
        os.execve(str(submit), [str(submit), *defaults, *args.arguments], dict(os.environ, **env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
