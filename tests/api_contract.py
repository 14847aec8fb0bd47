"""The JSON API's contract, docs/openapi.yaml, checked against the answers the tests receive.

``check_answer(method, path, status, document)`` finds the path's operation and the status's response
in the document and validates the body against its schema (JSON Schema 2020-12, as OpenAPI 3.1
uses); an answer the document does not describe fails too. The unit tests call it on the site's
handlers, the integration tests on every JSON answer of the real site (tests/integration/web_site.py).
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from datetime import datetime
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from core.config import REPO_ROOT

OPENAPI = REPO_ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:wikitrends:openapi"


@functools.cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


@functools.cache
def registry() -> Registry:
    return Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT202012)
    )


def operation_path(path: str) -> str:
    """The document's path template that ``path`` (without its query) matches."""
    bare = urllib.parse.urlsplit(path).path
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\{[^}]+\}", ".+", template) + "$"  # a title may hold a slash
        if re.match(pattern, bare):
            return template
    raise AssertionError(f"{bare} is not in {OPENAPI.name}")


def json_pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def check_answer(method: str, path: str, status: int, document: Any) -> None:
    """Fail unless ``document`` is what docs/openapi.yaml says ``method path`` answers with ``status``."""
    template = operation_path(path)
    operation = spec()["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template} is not in {OPENAPI.name}"
    assert str(status) in operation["responses"], f"{method} {template} has no {status} in {OPENAPI.name}"
    pointer = json_pointer("paths", template, method.lower(), "responses", str(status))
    response = operation["responses"][str(status)]
    if "$ref" in response:  # a shared response: #/components/responses/<name>
        pointer = response["$ref"].lstrip("#/")
    schema = {"$ref": f"{SPEC_URI}#/{pointer}/content/application~1json/schema"}
    errors = sorted(Draft202012Validator(schema, registry=registry()).iter_errors(document), key=str)
    assert not errors, f"{method} {path} {status} breaks {OPENAPI.name}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in errors[:5]
    )


# The edit alert record as the design's contract lists its fields (the alerts topic, Redis and the API
# carry them, with alert_id and timestamp_ms beside them).
DOCUMENTED_ALERT_FIELDS = frozenset(
    {"entity", "timestamp", "user", "is_bot", "bot_reason", "title", "comment", "size_change", "wiki"}
    | {"revision_id", "alert_type", "alert_reason"}
)


def check_alert_record(alert: dict) -> None:
    """Fail unless ``alert`` has the documented fields, its ``timestamp`` the moment of ``timestamp_ms``."""
    assert alert.keys() >= DOCUMENTED_ALERT_FIELDS, f"missing {DOCUMENTED_ALERT_FIELDS - alert.keys()}"
    moment = datetime.fromisoformat(alert["timestamp"].replace("Z", "+00:00"))
    assert moment.tzinfo is not None and int(moment.timestamp()) == alert["timestamp_ms"] // 1000
