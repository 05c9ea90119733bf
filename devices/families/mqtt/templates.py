"""Home Assistant's MQTT value templates: Jinja with `value` and `value_json`, sandboxed.

Devices write these templates (`{{ value_json.temperature }}`), so they run in Jinja's sandbox,
are compiled once each, and a template that fails to render gives no value (logged once), as a
broken template in Home Assistant leaves the state as it was.
"""
from __future__ import annotations

import functools
import json
import logging
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger(__name__)

MAX_TEMPLATE = 4096  # characters; a discovery config may say anything

_env = ImmutableSandboxedEnvironment(autoescape=False)
_env.filters["is_defined"] = lambda value: value  # Home Assistant's strictness check: a no-op here
_failed: set[str] = set()


@functools.lru_cache(maxsize=8192)
def _compiled(source: str) -> Any:
    return _env.from_string(source)


def render(source: str | None, payload: str, **variables: Any) -> str | None:
    """The template's text for `payload` (the payload itself without a template); None when it
    renders nothing (a key the payload lacks) or fails."""
    if source is None:
        return payload
    try:
        value_json = json.loads(payload) if payload[:1] in ("{", "[") else None
    except ValueError:
        value_json = None
    return render_with(source, value=payload, value_json=value_json, **variables)


def render_with(source: str, **variables: Any) -> str | None:
    if len(source) > MAX_TEMPLATE:
        return None
    try:
        text = _compiled(source).render(**variables).strip()
    except (TemplateError, TypeError, ValueError, ArithmeticError) as e:
        if source not in _failed:
            _failed.add(source)
            log.warning("an MQTT template failed (%s): %.120s", e, source)
        return None
    return text or None
