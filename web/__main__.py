"""The site: ``python -m web [--host H] [--port P]`` (defaults from configs/, loopback)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import tornado.httpserver
import tornado.ioloop

from core.config import load_settings
from web.access_log import AccessLog
from web.app import make_app
from web.snapshots import SnapshotReader, redis_connection

log = logging.getLogger("web")


def build_parser(settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m web",
        description="Serve the trending and anomaly pages and the JSON API, reading the jobs' snapshots "
        "from Redis.",
    )
    parser.add_argument(
        "--host", default=settings.web.host, help=f"address to listen on (default {settings.web.host})"
    )
    parser.add_argument(
        "--port", type=int, default=settings.web.port, help=f"port (default {settings.web.port})"
    )
    parser.add_argument("--debug", action="store_true", help="reload templates on change, detailed errors")
    return parser


async def serve(host: str, port: int, debug: bool) -> None:
    settings = load_settings()
    # The site connects as its own Redis user where there is one: it reads, and writes the watch list only.
    reader = SnapshotReader(
        redis_connection(settings.redis.as_site()), settings.redis, settings.web.snapshot_cache_seconds
    )
    access_log = AccessLog()
    flusher = tornado.ioloop.PeriodicCallback(access_log.flush, 500)
    flusher.start()
    server = tornado.httpserver.HTTPServer(make_app(settings, reader, debug, access_log), xheaders=True)
    server.listen(port, address=host)
    log.info(
        "serving http://%s:%d/ (Redis %s, keys under %s:)",
        host,
        port,
        settings.redis.url,
        settings.redis.key_prefix,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    server.stop()
    flusher.stop()
    access_log.flush()
    await reader.client.aclose()


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    args = build_parser(settings).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(args.host, args.port, args.debug))
    except OSError as error:
        where = f"{args.host}:{args.port}"
        log.error("cannot listen on %s (%s); free the port or set WIKITRENDS_WEB_PORT", where, error)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
