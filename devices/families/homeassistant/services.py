"""What the emulated Home Assistant's services do to one entity, as HA's own integrations would.

`apply` gives an entity's new state and changed attributes after one service; a call HA would
refuse raises ServiceError (HTTP 400 on REST, an error result on the WebSocket). `DESCRIPTIONS`
is what `get_services` answers: each service's name, fields and target, in HA's shape.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


class ServiceError(Exception):
    """A service call HA would refuse (unknown service, invalid data)."""

    def __init__(self, message: str, code: str = "service_validation_error") -> None:
        super().__init__(message)
        self.code = code  # the WebSocket error code HA sends with it


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


# HA's VacuumEntityFeature and TodoListEntityFeature bits.
VACUUM_FEATURES = {"pause": 4, "stop": 8, "return_to_base": 16, "locate": 512, "start": 8192,
                   "clean_area": 16384}
TODO_FEATURES = {"add_item": 1, "remove_item": 2, "update_item": 4, "remove_completed_items": 2}

# homeassistant.turn_on/off maps to a cover's own verbs, as in HA; other domains use theirs.
HOMEASSISTANT_SERVICES = {("cover", "turn_on"): "open_cover", ("cover", "turn_off"): "close_cover"}


def apply(domain: str, service: str, current: dict[str, Any], data: dict[str, Any],
          areas: set[str]) -> tuple[str, dict[str, Any]]:
    """The new (state, changed attributes) of one entity after one service. `areas` are the
    area ids of the area registry (a vacuum cleans only areas HA knows)."""
    state, attrs = current["state"], current["attributes"]
    match domain, service:
        case ("light" | "switch" | "fan", "toggle"):
            return apply(domain, "turn_off" if state == "on" else "turn_on", current, data, areas)
        case ("light", "turn_on"):
            changes: dict[str, Any] = {}
            if "brightness_pct" in data:
                changes["brightness"] = round(float(data["brightness_pct"]) * 255 / 100)
            elif "brightness" in data:
                changes["brightness"] = int(data["brightness"])
            elif attrs.get("brightness") is None:
                changes["brightness"] = 255
            for key in ("rgb_color", "color_temp_kelvin"):
                if key in data:
                    changes[key] = data[key]
            return "on", changes
        case ("light", "turn_off"):
            return "off", {"brightness": None}
        case ("switch", "turn_on"):
            return "on", {}
        case ("switch", "turn_off"):
            return "off", {}
        case ("fan", "turn_on"):
            percentage = int(_number(data, "percentage", 1, 100)) if "percentage" in data else 100
            return "on", {"percentage": percentage}
        case ("fan", "turn_off"):
            return "off", {"percentage": 0}
        case ("fan", "set_percentage"):
            percentage = int(_number(data, "percentage", 0, 100))
            return ("on" if percentage else "off"), {"percentage": percentage}
        case ("media_player", "turn_on"):
            return "idle", {}
        case ("media_player", "turn_off"):
            return "off", {}
        case ("media_player", "media_play"):
            if state == "off":
                raise ServiceError("Media player is off")
            return "playing", {}
        case ("media_player", "media_pause"):
            return ("paused" if state in ("playing", "buffering") else state), {}
        case ("media_player", "media_stop"):
            return ("idle" if state != "off" else state), {}
        case ("media_player", "media_next_track" | "media_previous_track"):
            track = attrs.get("media_track") or 1
            step = 1 if service == "media_next_track" else -1
            return state, {"media_track": max(1, track + step)}
        case ("media_player", "volume_set"):
            return state, {"volume_level": _number(data, "volume_level", 0, 1)}
        case ("media_player", "volume_mute"):
            if not isinstance(data.get("is_volume_muted"), bool):
                raise ServiceError("is_volume_muted must be a boolean", "invalid_format")
            return state, {"is_volume_muted": data["is_volume_muted"]}
        case ("media_player", "play_media"):
            if not data.get("media_content_id") or not data.get("media_content_type"):
                raise ServiceError("media_content_id and media_content_type are required", "invalid_format")
            return "playing", {"media_content_id": data["media_content_id"],
                               "media_content_type": data["media_content_type"],
                               "media_title": None, "media_artist": None}
        case ("vacuum", _) if service in VACUUM_FEATURES:
            supports(attrs, VACUUM_FEATURES[service], f"vacuum.{service}")
            return _vacuum(service, state, data, areas), {}
        case ("lawn_mower", "start_mowing"):
            return "mowing", {}
        case ("lawn_mower", "dock"):
            return "returning", {}
        case ("scene", "turn_on"):  # a scene's state is when it was last activated
            return now(), {}
        case ("script", "turn_on"):  # runs to its end at once here
            return "off", {"last_triggered": now()}
        case ("cover", "open_cover"):
            return "open", {"current_position": 100}
        case ("cover", "close_cover"):
            return "closed", {"current_position": 0}
        case ("cover", "stop_cover"):
            return state, {}
        case ("cover", "set_cover_position"):
            position = _number(data, "position", 0, 100)
            return ("closed" if position == 0 else "open"), {"current_position": int(position)}
        # A valve that reports its position moves all the way (HA's ValveEntity with
        # reports_position opens to 100 and closes to 0).
        case ("valve", "open_valve"):
            return "open", ({"current_position": 100} if "current_position" in attrs else {})
        case ("valve", "close_valve"):
            return "closed", ({"current_position": 0} if "current_position" in attrs else {})
        case ("valve", "set_valve_position"):
            position = _number(data, "position", 0, 100)
            return ("closed" if position == 0 else "open"), {"current_position": int(position)}
        case ("lock", "lock"):
            return "locked", {}
        case ("lock", "unlock"):
            return "unlocked", {}
        case ("alarm_control_panel", "alarm_arm_away" | "alarm_arm_home" | "alarm_arm_night"):
            if attrs.get("code_arm_required") and not data.get("code"):
                raise ServiceError("Arming requires a code but none was given")
            return "armed_" + service.removeprefix("alarm_arm_"), {}
        case ("alarm_control_panel", "alarm_disarm"):
            return "disarmed", {}
        case ("climate", "set_temperature"):
            temperature = _number(data, "temperature", attrs.get("min_temp", 7), attrs.get("max_temp", 35))
            return _hvac_mode(data.get("hvac_mode", state), attrs), {"temperature": temperature}
        case ("climate", "set_hvac_mode"):
            return _hvac_mode(data.get("hvac_mode"), attrs), {}
        case ("water_heater", "set_temperature"):
            temperature = _number(data, "temperature", attrs.get("min_temp", 10), attrs.get("max_temp", 60))
            return state, {"temperature": temperature}
    raise ServiceError(f"Service {domain}.{service} not found.", "not_found")


def _vacuum(service: str, state: str, data: dict[str, Any], areas: set[str]) -> str:
    if service == "clean_area":
        wanted = data.get("cleaning_area_id")
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if not wanted or not isinstance(wanted, list):
            raise ServiceError("cleaning_area_id is required", "invalid_format")
        unknown = [a for a in wanted if a not in areas]
        if unknown:
            raise ServiceError(f"Areas {', '.join(map(str, unknown))} are not mapped to this vacuum")
        return "cleaning"
    return {"start": "cleaning", "pause": "paused", "stop": "idle", "return_to_base": "returning",
            "locate": state}[service]


def todo(service: str, items: list[dict[str, Any]], data: dict[str, Any], new_uid: str) -> list[dict[str, Any]]:
    """A to-do list's items after add_item, update_item, remove_item or remove_completed_items
    (HA's todo integration: an item is found by uid or summary)."""
    items = [dict(i) for i in items]
    if service == "add_item":
        if not isinstance(data.get("item"), str) or not data["item"].strip():
            raise ServiceError("item is required", "invalid_format")
        return items + [{"uid": new_uid, "summary": data["item"], "status": "needs_action"}]
    if service == "update_item":
        item = _item(items, data.get("item"))
        status = data.get("status")
        if status is None and "rename" not in data:
            raise ServiceError("must contain at least one of rename, status", "invalid_format")
        if status is not None and status not in ("needs_action", "completed"):
            raise ServiceError(f"status {status!r} is not needs_action or completed", "invalid_format")
        item.update({k: v for k, v in (("summary", data.get("rename")), ("status", status)) if v})
        return items
    if service == "remove_item":
        wanted = data.get("item")
        for one in [wanted] if isinstance(wanted, str) else list(wanted or []):
            items.remove(_item(items, one))
        return items
    if service == "remove_completed_items":
        return [i for i in items if i["status"] != "completed"]
    raise ServiceError(f"Service todo.{service} not found.", "not_found")


def _item(items: list[dict[str, Any]], key: Any) -> dict[str, Any]:
    for item in items:
        if key in (item["uid"], item["summary"]):
            return item
    raise ServiceError(f"Unable to find To-do item: {key}")


def supports(attrs: dict[str, Any], bit: int, service: str) -> None:
    if not int(attrs.get("supported_features") or 0) & bit:
        raise ServiceError(f"Entity does not support {service}", "not_supported")


def _hvac_mode(mode: Any, attrs: dict[str, Any]) -> str:
    if mode not in attrs.get("hvac_modes", []):
        raise ServiceError(f"HVAC mode {mode} is not valid")
    return str(mode)


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    if key not in data:
        raise ServiceError(f"{key} is required", "invalid_format")
    value = float(data[key])
    if not low <= value <= high:
        raise ServiceError(f"{key} {value} is outside {low}..{high}")
    return value


_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "light.turn_on": {"brightness_pct": {"selector": {"number": {"min": 0, "max": 100}}},
                      "brightness": {"selector": {"number": {"min": 0, "max": 255}}},
                      "rgb_color": {"selector": {"color_rgb": None}},
                      "color_temp_kelvin": {"selector": {"color_temp": {"unit": "kelvin"}}}},
    "fan.turn_on": {"percentage": {"selector": {"number": {"min": 0, "max": 100}}}},
    "fan.set_percentage": {"percentage": {"required": True, "selector": {"number": {"min": 0, "max": 100}}}},
    "media_player.volume_set": {"volume_level": {"required": True, "selector": {"number": {"min": 0, "max": 1}}}},
    "media_player.volume_mute": {"is_volume_muted": {"required": True, "selector": {"boolean": None}}},
    "media_player.play_media": {"media_content_id": {"required": True, "selector": {"text": None}},
                                "media_content_type": {"required": True, "selector": {"text": None}}},
    "cover.set_cover_position": {"position": {"required": True, "selector": {"number": {"min": 0, "max": 100}}}},
    "valve.set_valve_position": {"position": {"required": True, "selector": {"number": {"min": 0, "max": 100}}}},
    "climate.set_temperature": {"temperature": {"selector": {"number": {"min": 0, "max": 250}}},
                                "hvac_mode": {"selector": {"state": {"attribute": "hvac_modes"}}}},
    "climate.set_hvac_mode": {"hvac_mode": {"selector": {"state": {"attribute": "hvac_modes"}}}},
    "water_heater.set_temperature": {"temperature": {"required": True, "selector": {"number": {"min": 0, "max": 100}}}},
    "alarm_control_panel.alarm_arm_away": {"code": {"selector": {"text": None}}},
    "alarm_control_panel.alarm_arm_home": {"code": {"selector": {"text": None}}},
    "alarm_control_panel.alarm_arm_night": {"code": {"selector": {"text": None}}},
    "alarm_control_panel.alarm_disarm": {"code": {"selector": {"text": None}}},
    "vacuum.clean_area": {"cleaning_area_id": {"required": True, "selector": {"area": {"multiple": True}}}},
    "todo.add_item": {"item": {"required": True, "selector": {"text": None}}},
    "todo.update_item": {"item": {"required": True, "selector": {"text": None}},
                         "rename": {"selector": {"text": None}},
                         "status": {"selector": {"select": {"options": ["needs_action", "completed"]}}}},
    "todo.remove_item": {"item": {"required": True, "selector": {"text": {"multiple": True}}}},
    "todo.get_items": {"status": {"selector": {"select": {"multiple": True,
                                                          "options": ["needs_action", "completed"]}}}},
}
SERVICES: dict[str, tuple[str, ...]] = {  # what HA registers per integration
    "homeassistant": ("turn_on", "turn_off", "toggle"),
    "light": ("turn_on", "turn_off", "toggle"), "switch": ("turn_on", "turn_off", "toggle"),
    "fan": ("turn_on", "turn_off", "toggle", "set_percentage"),
    "media_player": ("turn_on", "turn_off", "media_play", "media_pause", "media_stop", "media_next_track",
                     "media_previous_track", "volume_set", "volume_mute", "play_media"),
    "vacuum": tuple(VACUUM_FEATURES), "lawn_mower": ("start_mowing", "dock"),
    "scene": ("turn_on",), "script": ("turn_on",),
    "cover": ("open_cover", "close_cover", "stop_cover", "set_cover_position"),
    "valve": ("open_valve", "close_valve", "set_valve_position"), "lock": ("lock", "unlock"),
    "climate": ("set_temperature", "set_hvac_mode"), "water_heater": ("set_temperature",),
    "alarm_control_panel": ("alarm_arm_away", "alarm_arm_home", "alarm_arm_night", "alarm_disarm"),
    "todo": ("add_item", "update_item", "remove_item", "remove_completed_items", "get_items"),
}
RESPONSE_ONLY = {("todo", "get_items")}  # services that must be called with return_response


def descriptions(domains: set[str]) -> dict[str, dict[str, Any]]:
    """get_services' answer for the domains the house has (HA lists only loaded integrations)."""
    out: dict[str, dict[str, Any]] = {}
    for domain in sorted(domains | {"homeassistant"}):
        for service in SERVICES.get(domain, ()):
            entry: dict[str, Any] = {
                "name": service.replace("_", " ").capitalize(), "description": "",
                "fields": _FIELDS.get(f"{domain}.{service}", {}),
                "target": {"entity": [{"domain": [domain]}]} if domain != "homeassistant" else {"entity": [{}]},
            }
            if (domain, service) in RESPONSE_ONLY:
                entry["response"] = {"optional": False}
            out.setdefault(domain, {})[service] = entry
    return out
