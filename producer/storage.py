"""Reading and writing files that live on a local disk or in S3 (``s3://bucket/key``)."""

from __future__ import annotations

import fnmatch
import gzip
import io
from pathlib import Path

from core.config import Settings
from stores.clients import s3_client


def is_s3(location: str) -> bool:
    return location.startswith(("s3://", "s3a://"))


def split_s3(location: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` -> (``bucket``, ``some/key``)."""
    bucket, _, key = location.split("://", 1)[1].partition("/")
    return bucket, key


def expand(locations: list[str], settings: Settings) -> list[str]:
    """Local globs and ``s3://bucket/prefix/pattern*`` listings -> the files they name, sorted."""
    found: list[str] = []
    for location in locations:
        if is_s3(location):
            bucket, pattern = split_s3(location)
            prefix = pattern.split("*", 1)[0].split("?", 1)[0]
            paginator = s3_client(settings).get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                found += [
                    f"s3://{bucket}/{item['Key']}"
                    for item in page.get("Contents", [])
                    if fnmatch.fnmatchcase(item["Key"], pattern)
                ]
        else:
            path = Path(location)
            matches = sorted(path.parent.glob(path.name)) if any(c in path.name for c in "*?[") else [path]
            missing = [m for m in matches if not m.exists()]
            if missing or not matches:
                raise FileNotFoundError(f"no file at {location}")
            found += [str(m) for m in matches]
    return sorted(found, key=lambda name: name.rsplit("/", 1)[-1])


def read_text_lines(location: str, settings: Settings) -> io.TextIOBase:
    """The file's lines as text, gunzipped when the name ends in .gz; bad UTF-8 kept as U+FFFD."""
    if is_s3(location):
        bucket, key = split_s3(location)
        raw: io.BufferedIOBase = io.BytesIO(
            s3_client(settings).get_object(Bucket=bucket, Key=key)["Body"].read()
        )
    else:
        raw = open(location, "rb")  # noqa: SIM115 - handed to the caller, closed with the wrapper
    if location.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="\n")


def write_bytes(location: str, payload: bytes, settings: Settings) -> None:
    """Write a whole file; in S3 a single PUT, so readers never see half of it."""
    if is_s3(location):
        bucket, key = split_s3(location)
        s3_client(settings).put_object(Bucket=bucket, Key=key, Body=payload)
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(payload)
    partial.replace(path)
