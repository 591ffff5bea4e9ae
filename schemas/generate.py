"""Generate the JSON Schemas and the AsyncAPI 3 document from the pydantic models in ``schemas.catalog``.

``python -m schemas.generate`` writes them; ``--check`` exits non-zero when the committed files drift from
the models (the test suite runs the same comparison).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.catalog import EVENT_TYPES, TopicSpec, all_topics

GENERATED = Path(__file__).parent / "generated"
# The Helm chart's copy of the topic list (its optional Strimzi KafkaTopic resources are rendered from it).
CHART_TOPICS = Path(__file__).parents[1] / "deploy" / "k8s" / "helhet" / "files" / "topics.json"

# Binary-mode CloudEvents headers every message carries (Kafka protocol binding, CloudEvents 1.0).
_CE_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string"},
        "ce_source": {"type": "string", "format": "uri-reference"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string"},
        "content-type": {"const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context of the producing span."},
        "tracestate": {"type": "string"},
    },
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """One standalone JSON Schema (draft 2020-12) per event type, keyed by type name."""
    schemas: dict[str, dict[str, Any]] = {}
    for declared in EVENT_TYPES:
        schema = declared.model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://helhet.example/schemas/{declared.name}.json"
        schemas[declared.name] = schema
    return schemas


def asyncapi() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(declared.model, "validation") for declared in EVENT_TYPES],
        ref_template="#/components/schemas/{model}",
    )
    messages = {
        declared.name: {
            "name": declared.name,
            "title": declared.model.__name__,
            "summary": declared.summary,
            "contentType": "application/json",
            "headers": _CE_HEADERS,
            "payload": {"$ref": f"#/components/schemas/{declared.model.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "The customer key."}}},
        }
        for declared in EVENT_TYPES
    }
    channels = {topic.name: _channel(topic) for topic in all_topics()}
    operations = {
        f"publish-{declared.name}": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{declared.topic}"},
            "messages": [{"$ref": f"#/channels/{declared.topic}/messages/{declared.name}"}],
        }
        for declared in EVENT_TYPES
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Helhet events",
            "version": "1.0.0",
            "description": "Kafka topics of Helhet; every message is a CloudEvent 1.0 in binary mode.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions.get("$defs", {})},
    }


def _channel(topic: TopicSpec) -> dict[str, Any]:
    return {
        "address": topic.name,
        "description": topic.summary,
        "messages": {
            declared.name: {"$ref": f"#/components/messages/{declared.name}"}
            for declared in EVENT_TYPES
            if declared.topic == topic.name
        },
        "bindings": {
            "kafka": {
                "partitions": topic.partitions,
                "topicConfiguration": {"cleanup.policy": ["compact" if topic.compacted else "delete"]},
            }
        },
    }


def rendered() -> dict[Path, str]:
    """Every generated file with its exact content."""
    files = {GENERATED / "json" / f"{name}.json": _dump(schema) for name, schema in json_schemas().items()}
    files[GENERATED / "asyncapi.json"] = _dump(asyncapi())
    files[CHART_TOPICS] = _dump(chart_topics())
    return files


def chart_topics() -> list[dict[str, Any]]:
    return [
        {"name": topic.name, "partitions": topic.partitions, "config": topic.kafka_config}
        for topic in all_topics()
    ]


def drift() -> list[str]:
    """Generated files that are missing, stale or no longer produced by the models."""
    expected = rendered()
    stale = [str(path) for path, text in expected.items() if not path.exists() or path.read_text() != text]
    extra = [str(path) for path in GENERATED.rglob("*.json") if path not in expected]
    return sorted(stale + extra)


def write() -> None:
    for path in GENERATED.rglob("*.json"):
        path.unlink()
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _dump(document: dict[str, Any] | list[dict[str, Any]]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = drift()
        for path in stale:
            print(f"out of date: {path} (run `make schemas`)", file=sys.stderr)
        return 1 if stale else 0
    write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
