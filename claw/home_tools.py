"""Generic home tools, named and shaped like Home Assistant's intents so models already know
them, plus the device-specific tools for what the generic ones cannot say.

Every tool resolves its targets, then changes devices only through `Executor.act`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from claw.executor import Executor
from claw.tools import Tool, ToolContext, ToolError, ToolRegistry
from devices.home import Home
from devices.model import Entity
from devices.targets import TargetError, listing, resolve

Name = Annotated[str | None, "Name or alias of the device"]
AreaName = Annotated[str | None, "Area (room) name or alias"]
Floor = Annotated[str | None, "Floor name"]
Domains = Annotated[list[str] | None, "Kinds of device, e.g. light, switch, media_player, cover, fan"]
Classes = Annotated[list[str] | None, "Device classes, e.g. garage, blind, window, outlet"]

# Which service turns an entity "on" or "off", by domain (as Home Assistant's intents do).
ON_OFF = {
    "cover": ("open_cover", "close_cover"),
    "valve": ("open_valve", "close_valve"),
    "lock": ("lock", "unlock"),
    "alarm_control_panel": ("alarm_arm_away", "alarm_disarm"),
}

def _names(entities: list[Entity]) -> str:
    names = [e.name for e in entities]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _names_of(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _state_line(e: Entity) -> str:
    a = e.attributes
    bits = [e.state]
    if e.domain == "light" and e.state == "on" and a.get("brightness") is not None:
        bits.append(f"{round(a['brightness'] / 255 * 100)}% brightness")
    if e.domain == "media_player":
        if a.get("media_title"):
            bits.append(f"'{a['media_title']}'" + (f" by {a['media_artist']}" if a.get("media_artist") else ""))
        if a.get("volume_level") is not None:
            bits.append(f"volume {round(a['volume_level'] * 100)}%")
        if a.get("is_volume_muted"):
            bits.append("muted")
    for key, label in (("current_temperature", "currently"), ("temperature", "set to"),
                       ("current_position", "position"), ("current_power_w", "power W")):
        if a.get(key) is not None:
            bits.append(f"{label} {a[key]}")
    if a.get("unit_of_measurement") and e.domain == "sensor":
        bits[0] = f"{e.state} {a['unit_of_measurement']}"
    where = f" ({e.area})" if e.area else ""
    return f"{e.name}{where}: {', '.join(bits)}"


def said(service: str, data: dict[str, Any], entities: list[Entity]) -> str:
    """What was done, in a short sentence (the devices' new states are read back after)."""
    who = "the " + _names(entities)
    if service == "turn_on":
        extra = []
        if data.get("brightness_pct") is not None:
            extra.append(f"{data['brightness_pct']}% brightness")
        if data.get("color_name"):
            extra.append(data["color_name"])
        if data.get("color_temp_kelvin"):
            extra.append(f"{data['color_temp_kelvin']} K")
        return f"Turned on {who}" + (f" at {', '.join(extra)}." if extra else ".")
    fixed = {
        "turn_off": "Turned off {who}.", "open_cover": "Opening {who}.",
        "close_cover": "Closing {who}.", "open_valve": "Opening {who}.",
        "close_valve": "Closing {who}.", "lock": "Locked {who}.", "unlock": "Unlocked {who}.",
        "alarm_arm_away": "Armed {who} (away).", "alarm_arm_home": "Armed {who} (home).",
        "alarm_arm_night": "Armed {who} (night).", "alarm_arm_vacation": "Armed {who} (vacation).",
        "alarm_disarm": "Disarmed {who}.", "stop": "Stopped {who}.", "pause": "Paused {who}.",
        "media_pause": "Paused {who}.", "media_play": "Resumed {who}.",
        "media_next_track": "Skipped to the next track on {who}.",
        "media_previous_track": "Went back a track on {who}.",
        "unjoin": "{who} now play on their own.",
        "start": "Started {who}.", "start_mowing": "Started {who}.",
        "return_to_base": "Sent {who} back to the dock.", "dock": "Sent {who} back to the dock.",
    }
    if service in fixed:
        return fixed[service].format(who=who)
    if service == "volume_mute":
        return f"{'Muted' if data['is_volume_muted'] else 'Unmuted'} {who}."
    if service == "volume_set":
        return f"Set {who} to {round(data['volume_level'] * 100)}% volume."
    if service == "set_temperature":
        return f"Set {who} to {data['temperature']:g} degrees."
    if service == "set_hvac_mode":
        return f"Set {who} to {data['hvac_mode']}."
    if service in ("set_cover_position", "set_valve_position"):
        return f"Set {who} to {data['position']}% open."
    if service == "set_percentage":
        return f"Set {who} to {data['percentage']}% speed."
    if service == "clean_area":
        return f"Sent {who} to clean the {data['area']}."
    if service == "add_item":
        return f"Added {data['item']} to the {_names(entities)}."
    if service == "update_item":
        return f"Checked off {data['item']} on the {_names(entities)}."
    if service == "remove_item":
        return f"Removed {data['item']} from the {_names(entities)}."
    if service == "play_favorite":
        return f"Playing {data['favorite']} on {who}."
    if service == "play_media":
        return f"Playing {data.get('media_title') or data['media_content_id']} on {who}."
    return f"Done: {service.replace('_', ' ')} on {who}."


# Kinds of device that turn on and off (or open, lock, arm) through HassTurnOn/HassTurnOff.
SWITCHABLE = ("light", "switch", "fan", "media_player", "cover", "valve", "lock", "alarm_control_panel", "scene", "script", "input_boolean", "humidifier", "siren")


@dataclass(frozen=True)
class Declaration:
    """What a tool says about itself beside its signature: the fast-path intents it answers
    (the fast path's intent table is made of these) and the kinds of device it needs (a house
    without any is not offered the tool)."""

    intents: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()  # empty: any house can use it


MEDIA = ("media_player",)
TODO = ("todo",)
VACUUM = ("vacuum",)
ALARM = ("alarm_control_panel",)
# Each tool's declaration, beside its signature in `register` (tools not listed need nothing).
DECLARATIONS: dict[str, Declaration] = {
    "HassTurnOn": Declaration(("HassTurnOn",), SWITCHABLE),
    "HassTurnOff": Declaration(("HassTurnOff",), SWITCHABLE),
    "HassLightSet": Declaration(("HassLightSet",), ("light",)),
    "HassSetVolume": Declaration(("HassSetVolume",), MEDIA),
    "HassSetVolumeRelative": Declaration(("HassSetVolumeRelative",), MEDIA),
    "HassMediaPause": Declaration(("HassMediaPause",), MEDIA),
    "HassMediaUnpause": Declaration(("HassMediaUnpause",), MEDIA),
    "HassMediaNext": Declaration(("HassMediaNext",), MEDIA),
    "HassMediaPrevious": Declaration(("HassMediaPrevious",), MEDIA),
    "HassMediaPlayerMute": Declaration(("HassMediaPlayerMute",), MEDIA),
    "HassMediaPlayerUnmute": Declaration(("HassMediaPlayerUnmute",), MEDIA),
    "HassMediaSearchAndPlay": Declaration(("HassMediaSearchAndPlay",), MEDIA),
    "SonosPlayUri": Declaration((), MEDIA),
    "SonosGroup": Declaration((), MEDIA),
    "SonosUngroup": Declaration((), MEDIA),
    "HassClimateSetTemperature": Declaration(("HassClimateSetTemperature",), ("climate", "water_heater")),
    "HassClimateSetMode": Declaration((), ("climate",)),
    "HassSetPosition": Declaration(("HassSetPosition",), ("cover", "valve")),
    "GetLiveContext": Declaration(("HassGetState", "HassClimateGetTemperature")),
    "CameraSnapshot": Declaration((), ("camera",)),
    "HassFanSetSpeed": Declaration(("HassFanSetSpeed",), ("fan",)),
    "HassVacuumStart": Declaration(("HassVacuumStart",), VACUUM),
    "HassVacuumReturnToBase": Declaration(("HassVacuumReturnToBase",), VACUUM),
    "HassVacuumCleanArea": Declaration(("HassVacuumCleanArea",), VACUUM),
    "VacuumStop": Declaration(("VacuumStop",), VACUUM),
    "HassLawnMowerStartMowing": Declaration(("HassLawnMowerStartMowing",), ("lawn_mower",)),
    "HassLawnMowerDock": Declaration(("HassLawnMowerDock",), ("lawn_mower",)),
    "AlarmArm": Declaration(("AlarmArm",), ALARM),
    "AlarmDisarm": Declaration(("AlarmDisarm",), ALARM),
    "HassListAddItem": Declaration(("HassListAddItem",), TODO),
    "HassListCompleteItem": Declaration(("HassListCompleteItem",), TODO),
    "HassListRemoveItem": Declaration(("HassListRemoveItem",), TODO),
    "TodoGetItems": Declaration(("TodoGetItems",), TODO),
}
# The fast path's table: each declared intent and the tool it becomes.
INTENT_TOOLS = {intent: tool for tool, d in DECLARATIONS.items() for intent in d.intents}


def intent_tools(registry: ToolRegistry) -> dict[str, str]:
    """The intents whose tool is registered here, and that tool's name."""
    return {intent: tool for intent, tool in INTENT_TOOLS.items() if registry.get(tool) is not None}


def intent_domains() -> dict[str, tuple[str, ...]]:
    """The kinds of device each declared intent acts on (none for those that act on any)."""
    return {intent: d.domains for d in DECLARATIONS.values() for intent in d.intents if d.domains}


def tools_for_house(registry: ToolRegistry, home: Home) -> list[Tool]:
    """The tools worth offering a model for this house (see ToolRegistry.for_domains)."""
    return registry.for_domains({e.domain for e in home.entities.values()})


def one(found: list[Entity], what: str) -> Entity:
    """The one target a tool acts on; several are a question for the person."""
    if len(found) > 1:
        raise TargetError("duplicate_entities", f"Which {what}: {listing(found)}?", found)
    return found[0]


def list_item(entity: Entity, said: str) -> dict[str, Any]:
    """The item of a to-do list that `said` names (exactly, else the one holding the words)."""
    items = entity.attributes.get("items") or []
    wanted = said.strip().casefold()
    exact = [i for i in items if i["summary"].casefold() == wanted]
    holding = exact or [i for i in items if wanted in i["summary"].casefold()]
    if len(holding) == 1:
        return holding[0]
    listed = ", ".join(i["summary"] for i in items) or "nothing"
    if not holding:
        raise ToolError(f"'{said}' isn't on the {entity.name} (it has: {listed}).")
    raise ToolError(f"Which one: {', '.join(i['summary'] for i in holding)}?")


def register(registry: ToolRegistry, executor: Executor, home: Home) -> None:
    def declared(fn: Any, name: str | None = None) -> None:
        """Register a tool with the kinds of device its declaration says it needs."""
        name = name or fn.__name__
        registry.add(fn, name, domains=DECLARATIONS[name].domains if name in DECLARATIONS else ())

    act = executor.act

    def targets(name=None, area=None, floor=None, domain=None, device_class=None, service=None):
        return resolve(home, name=name, area=area, floor=floor, domain=domain,
                       device_class=device_class, service=service)

    async def switch(ctx: ToolContext, on: bool, entities: list[Entity]) -> str:
        groups: dict[str, list[Entity]] = {}
        for e in entities:
            service = ON_OFF.get(e.domain, ("turn_on", "turn_off"))[0 if on else 1]
            if service in e.services:
                groups.setdefault(service, []).append(e)
        done = [said(service, {}, await act(ctx, group, service, {})) for service, group in groups.items()]
        # A thermostat turns off to mode "off" and on to the first mode that heats or cools.
        for e in entities:
            modes = e.attributes.get("hvac_modes") or []
            mode = "off" if not on else next((m for m in modes if m != "off"), None)
            if e.domain == "climate" and "set_hvac_mode" in e.services and mode in modes:
                data = {"hvac_mode": mode}
                done.append(said("set_hvac_mode", data, await act(ctx, [e], "set_hvac_mode", data)))
        if not done:
            raise ToolError(f"The {_names(entities)} can't be turned {'on' if on else 'off'}.")
        return " ".join(done)

    async def HassTurnOn(ctx: ToolContext, name: Name = None, area: AreaName = None,
                         floor: Floor = None, domain: Domains = None,
                         device_class: Classes = None) -> str:
        """Turns on, opens or locks devices (lights, switches, fans, media players; covers open,
        locks lock). Give a name, or an area/floor with a domain."""
        return await switch(ctx, True, targets(name, area, floor, domain, device_class))

    async def HassTurnOff(ctx: ToolContext, name: Name = None, area: AreaName = None,
                          floor: Floor = None, domain: Domains = None,
                          device_class: Classes = None) -> str:
        """Turns off, closes or unlocks devices (covers close, locks unlock). Give a name, or an
        area/floor with a domain."""
        return await switch(ctx, False, targets(name, area, floor, domain, device_class))

    async def HassLightSet(ctx: ToolContext, name: Name = None, area: AreaName = None,
                           floor: Floor = None,
                           brightness: Annotated[int | None, "Brightness percent 0-100"] = None,
                           color: Annotated[str | None, "Color name, e.g. red, warm white"] = None,
                           temperature: Annotated[int | None, "Color temperature in kelvin"] = None) -> str:
        """Sets the brightness, color or color temperature of lights."""
        data: dict[str, Any] = {}
        if brightness is not None:
            if not 0 <= brightness <= 100:
                raise ToolError("brightness must be a percentage from 0 to 100")
            data["brightness_pct"] = brightness
        if color is not None:
            data["color_name"] = color.strip().lower()
        if temperature is not None:
            if not 1000 <= temperature <= 12000:
                raise ToolError("temperature must be in kelvin, from 1000 to 12000")
            data["color_temp_kelvin"] = temperature
        if not data:
            raise ToolError("say a brightness, a color or a color temperature")
        lights = targets(name, area, floor, ["light"], service="turn_on")
        if brightness == 0:
            return said("turn_off", {}, await act(ctx, lights, "turn_off", {}))
        return said("turn_on", data, await act(ctx, lights, "turn_on", data))

    def media(service: str, doc: str):
        async def tool(ctx: ToolContext, name: Name = None, area: AreaName = None,
                       floor: Floor = None) -> str:
            players = targets(name, area, floor, ["media_player"], service=service)
            return said(service, {}, await act(ctx, players, service, {}))
        tool.__doc__ = doc
        return tool

    async def HassSetVolume(ctx: ToolContext,
                            volume_level: Annotated[int, "Volume percent 0-100"],
                            name: Name = None, area: AreaName = None, floor: Floor = None) -> str:
        """Sets the volume of media players to a percentage."""
        if not 0 <= volume_level <= 100:
            raise ToolError("volume_level must be a percentage from 0 to 100")
        players = targets(name, area, floor, ["media_player"], service="volume_set")
        data = {"volume_level": volume_level / 100}
        return said("volume_set", data, await act(ctx, players, "volume_set", data))

    async def HassSetVolumeRelative(ctx: ToolContext,
                                    volume_step: Annotated[str, "'up', 'down', or a signed percent like '-10'"],
                                    name: Name = None, area: AreaName = None,
                                    floor: Floor = None) -> str:
        """Turns the volume of media players up or down."""
        step = {"up": 10, "down": -10}.get(volume_step.strip().lower())
        if step is None:
            try:
                step = int(volume_step.strip().rstrip("%"))
            except ValueError:
                raise ToolError("volume_step must be 'up', 'down' or a number like -10") from None
        players = targets(name, area, floor, ["media_player"], service="volume_set")
        done = []
        for p in players:
            level = min(1.0, max(0.0, (p.attributes.get("volume_level") or 0) + step / 100))
            data = {"volume_level": round(level, 2)}
            done.append(said("volume_set", data, await act(ctx, [p], "volume_set", data)))
        return " ".join(done)

    def mute(muted: bool, doc: str):
        async def tool(ctx: ToolContext, name: Name = None, area: AreaName = None,
                       floor: Floor = None) -> str:
            players = targets(name, area, floor, ["media_player"], service="volume_mute")
            data = {"is_volume_muted": muted}
            return said("volume_mute", data, await act(ctx, players, "volume_mute", data))
        tool.__doc__ = doc
        return tool

    async def HassMediaSearchAndPlay(ctx: ToolContext,
                                     search_query: Annotated[str, "What to play, e.g. a favorite's name"],
                                     name: Name = None, area: AreaName = None) -> str:
        """Finds music by name among the speaker's favorites and plays it."""
        players = targets(name, area, None, ["media_player"], service="play_favorite")
        if len(players) > 1:
            players = players[:1]
        favorites = players[0].attributes.get("favorites") or []
        wanted = search_query.casefold()
        match = next((f for f in favorites if wanted in f.casefold() or f.casefold() in wanted), None)
        if match is None:
            listing = ", ".join(favorites) or "none"
            raise ToolError(f"I couldn't find '{search_query}' in the {players[0].name}'s favorites ({listing}).")
        data = {"favorite": match}
        return said("play_favorite", data, await act(ctx, players, "play_favorite", data))

    async def HassClimateSetTemperature(ctx: ToolContext,
                                        temperature: Annotated[float, "Target temperature in degrees"],
                                        name: Name = None, area: AreaName = None,
                                        floor: Floor = None) -> str:
        """Sets the target temperature of a thermostat, spa or water heater."""
        found = targets(name, area, floor, ["climate", "water_heater"], service="set_temperature")
        for e in found:
            low, high = e.attributes.get("min_temp"), e.attributes.get("max_temp")
            if low is not None and high is not None and not low <= temperature <= high:
                raise ToolError(f"The {e.name} accepts {low} to {high} degrees.")
        data = {"temperature": temperature}
        return said("set_temperature", data, await act(ctx, found, "set_temperature", data))

    async def HassClimateSetMode(ctx: ToolContext,
                                 hvac_mode: Annotated[str, "heat, cool, heat_cool, auto, off, ..."],
                                 name: Name = None, area: AreaName = None) -> str:
        """Sets the HVAC mode of a thermostat."""
        found = targets(name, area, None, ["climate"], service="set_hvac_mode")
        for e in found:
            modes = e.attributes.get("hvac_modes")
            if modes and hvac_mode not in modes:
                raise ToolError(f"The {e.name} has modes {', '.join(modes)}.")
        data = {"hvac_mode": hvac_mode}
        return said("set_hvac_mode", data, await act(ctx, found, "set_hvac_mode", data))

    async def HassSetPosition(ctx: ToolContext,
                              position: Annotated[int, "Position percent, 0 closed to 100 open"],
                              name: Name = None, area: AreaName = None, floor: Floor = None,
                              domain: Domains = None, device_class: Classes = None) -> str:
        """Sets the position of covers such as blinds, shades, garage doors and valves."""
        if not 0 <= position <= 100:
            raise ToolError("position must be a percentage from 0 to 100")
        found = targets(name, area, floor, domain or ["cover", "valve"], device_class)
        data = {"position": position}
        done = []
        for kind in ("cover", "valve"):
            group = [e for e in found if e.domain == kind]
            if group:
                service = f"set_{kind}_position"
                done.append(said(service, data, await act(ctx, group, service, data)))
        if not done:
            raise ToolError(f"The {_names(found)} can't be set to a position.")
        return " ".join(done)

    async def GetLiveContext(ctx: ToolContext, name: Name = None, area: AreaName = None,
                             floor: Floor = None, domain: Domains = None) -> str:
        """Reports the current state of devices (on/off, playing, temperatures, positions).
        With no arguments, reports everything."""
        await home.settle()
        if name or area or floor or domain:
            found = targets(name, area, floor, domain)
        else:
            found = sorted(home.entities.values(), key=lambda e: (e.area or "", e.name))
        return "\n".join(_state_line(e) for e in found) or "No devices have been found yet."

    async def HassGetState(ctx: ToolContext, name: Name = None, area: AreaName = None,
                           floor: Floor = None, domain: Domains = None, device_class: Classes = None,
                           state: Annotated[str | None, "A state to ask about: on, off, open, locked..."] = None
                           ) -> str:
        """Answers whether devices are in a state ("is the garage door open?", "are any lights
        on in the kitchen?"), or reports their state when no state is asked about."""
        await home.settle()
        found = targets(name, area, floor, domain, device_class)
        if state is None:
            return "\n".join(_state_line(e) for e in found)
        wanted = state.strip().lower().replace(" ", "_")
        yes = [e for e in found if e.state == wanted]
        others = "; ".join(f"the {e.name} is {e.state.replace('_', ' ')}" for e in found if e not in yes)
        if not yes:
            return f"No: {others}."
        return f"Yes: the {_names(yes)} {'is' if len(yes) == 1 else 'are'} {state}" + (
            f"; {others}." if others else ".")

    async def GetDateTime(ctx: ToolContext) -> dict[str, str]:
        """Provides the current date and time."""
        now = time.localtime()
        return {"date": time.strftime("%Y-%m-%d", now), "time": time.strftime("%H:%M:%S", now),
                "timezone": time.strftime("%Z", now), "weekday": time.strftime("%A", now)}

    async def CameraSnapshot(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Takes a picture with a camera so you can see it (and the owner gets it too)."""
        cameras = targets(name, area, None, ["camera"], service="snapshot")
        for camera in cameras:
            ctx.images.append(await home.snapshot(camera))
        return f"Here is the picture from the {_names(cameras)}, taken {time.strftime('%H:%M:%S')}."

    async def SonosPlayUri(ctx: ToolContext, uri: Annotated[str, "http(s) or x-sonos URI to play"],
                           title: Annotated[str | None, "Title to show"] = None,
                           name: Name = None, area: AreaName = None) -> str:
        """Plays a stream or file URI on a Sonos speaker."""
        players = targets(name, area, None, ["media_player"], service="play_media")
        data = {"media_content_id": uri, "media_title": title or ""}
        return said("play_media", data, await act(ctx, players, "play_media", data))

    async def SonosGroup(ctx: ToolContext,
                         members: Annotated[list[str], "Names or areas of the speakers to add"],
                         name: Name = None, area: AreaName = None) -> str:
        """Groups Sonos speakers so they play the same music; the first target leads."""
        leader = targets(name, area, None, ["media_player"], service="join")[0]
        others = []
        for m in members:
            found = (resolve(home, area=m, domain="media_player") if home.area_named(m)
                     else resolve(home, name=m, domain="media_player"))
            others += [e for e in found if e.entity_id != leader.entity_id]
        if not others:
            raise ToolError("name at least one other speaker to group with")
        ids = [e.entity_id for e in others]
        await act(ctx, [leader], "join", {"group_members": ids})
        return f"Grouped the {_names(others)} with the {leader.name}."

    async def SonosUngroup(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Takes Sonos speakers out of their group so they play on their own."""
        players = targets(name, area, None, ["media_player"], service="unjoin")
        return said("unjoin", {}, await act(ctx, players, "unjoin", {}))

    async def HassFanSetSpeed(ctx: ToolContext,
                              percentage: Annotated[int, "Fan speed percent 0-100"],
                              name: Name = None, area: AreaName = None, floor: Floor = None) -> str:
        """Sets the speed of fans to a percentage."""
        if not 0 <= percentage <= 100:
            raise ToolError("percentage must be from 0 to 100")
        fans = targets(name, area, floor, ["fan"], service="set_percentage")
        data = {"percentage": percentage}
        return said("set_percentage", data, await act(ctx, fans, "set_percentage", data))

    async def HassVacuumStart(ctx: ToolContext, name: Name = None, area: AreaName = None,
                              floor: Floor = None) -> str:
        """Starts robot vacuums cleaning."""
        return said("start", {}, await act(ctx, targets(name, area, floor, ["vacuum"], service="start"), "start", {}))

    async def HassVacuumReturnToBase(ctx: ToolContext, name: Name = None, area: AreaName = None,
                                     floor: Floor = None) -> str:
        """Sends robot vacuums back to their dock."""
        found = targets(name, area, floor, ["vacuum"], service="return_to_base")
        return said("return_to_base", {}, await act(ctx, found, "return_to_base", {}))

    async def HassVacuumCleanArea(ctx: ToolContext,
                                  area: Annotated[str, "The area (room) to clean"],
                                  name: Name = None) -> str:
        """Sends a robot vacuum to clean one area."""
        room = home.area_named(area)
        if room is None:
            known = ", ".join(sorted(home.areas)) or "none yet"
            raise ToolError(f"I don't have an area called '{area}' (areas: {known}).")
        vacuums = targets(name, None, None, ["vacuum"], service="clean_area")
        if len(vacuums) > 1:
            here = [v for v in vacuums if v.area == room.name]
            if len(here) != 1:
                raise ToolError(f"Which vacuum: {', '.join(v.name for v in vacuums)}?")
            vacuums = here
        data = {"area": room.name}
        return said("clean_area", data, await act(ctx, vacuums, "clean_area", data))

    async def HassLawnMowerStartMowing(ctx: ToolContext, name: Name = None,
                                       area: AreaName = None) -> str:
        """Starts lawn mowers mowing."""
        found = targets(name, area, None, ["lawn_mower"], service="start_mowing")
        return said("start_mowing", {}, await act(ctx, found, "start_mowing", {}))

    async def HassLawnMowerDock(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Sends lawn mowers back to their dock."""
        return said("dock", {}, await act(ctx, targets(name, area, None, ["lawn_mower"], service="dock"), "dock", {}))

    async def VacuumStop(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Stops robot vacuums where they are (pauses those that cannot stop)."""
        found = targets(name, area, None, ["vacuum"])
        done = []
        for service in ("stop", "pause"):
            group = [e for e in found if service in e.services and e not in done]
            if group:
                done += await act(ctx, group, service, {})
        if not done:
            raise ToolError(f"The {_names(found)} can't be stopped from here.")
        return said("stop", {}, done)

    async def AlarmArm(ctx: ToolContext,
                       mode: Annotated[Literal["away", "home", "night", "vacation"], "How to arm"] = "away",
                       name: Name = None, area: AreaName = None) -> str:
        """Arms alarm panels (away by default; home or night keeps the inside free)."""
        service = f"alarm_arm_{mode}"
        panels = targets(name, area, None, ["alarm_control_panel"])
        unable = [p for p in panels if service not in p.services]
        if unable:
            modes = sorted(s.removeprefix("alarm_arm_") for s in unable[0].services if s.startswith("alarm_arm_"))
            raise ToolError(f"The {unable[0].name} can't arm in {mode} mode (it can: {', '.join(modes) or 'none'}).")
        return said(service, {}, await act(ctx, panels, service, {}))

    async def AlarmDisarm(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Disarms alarm panels (the owner confirms it)."""
        panels = targets(name, area, None, ["alarm_control_panel"], service="alarm_disarm")
        return said("alarm_disarm", {}, await act(ctx, panels, "alarm_disarm", {}))

    def todo_list(name: str | None, service: str) -> Entity:
        return one(targets(name, None, None, ["todo"], service=service), "list")

    async def HassListAddItem(ctx: ToolContext, item: Annotated[str, "The item to add"],
                              name: Annotated[str | None, "The list's name"] = None) -> str:
        """Adds an item to a to-do or shopping list."""
        found = todo_list(name, "add_item")
        data = {"item": item.strip()}
        return said("add_item", data, await act(ctx, [found], "add_item", data))

    async def HassListCompleteItem(ctx: ToolContext, item: Annotated[str, "The item to check off"],
                                   name: Annotated[str | None, "The list's name"] = None) -> str:
        """Checks an item off a to-do or shopping list."""
        found = todo_list(name, "update_item")
        data = {"item": list_item(found, item)["summary"], "status": "completed"}
        return said("update_item", data, await act(ctx, [found], "update_item", data))

    async def HassListRemoveItem(ctx: ToolContext, item: Annotated[str, "The item to remove"],
                                 name: Annotated[str | None, "The list's name"] = None) -> str:
        """Removes an item from a to-do or shopping list."""
        found = todo_list(name, "remove_item")
        data = {"item": list_item(found, item)["summary"]}
        return said("remove_item", data, await act(ctx, [found], "remove_item", data))

    async def TodoGetItems(ctx: ToolContext,
                           name: Annotated[str | None, "The list's name"] = None) -> str:
        """Reads what is still to do (or to buy) on a to-do or shopping list."""
        await home.settle()
        found = one(targets(name, None, None, ["todo"]), "list")
        items = [i["summary"] for i in found.attributes.get("items") or []
                 if i.get("status") != "completed"]
        if not items:
            return f"The {found.name} is empty."
        return f"On the {found.name}: {_names_of(items)}."

    for fn in (HassTurnOn, HassTurnOff, HassLightSet, HassSetVolume, HassSetVolumeRelative,
               HassMediaSearchAndPlay, HassClimateSetTemperature, HassClimateSetMode,
               HassSetPosition, GetLiveContext, HassGetState, GetDateTime, CameraSnapshot, SonosPlayUri, SonosGroup, SonosUngroup,
               HassFanSetSpeed, HassVacuumStart, HassVacuumReturnToBase, HassVacuumCleanArea,
               HassLawnMowerStartMowing, HassLawnMowerDock, VacuumStop, AlarmArm, AlarmDisarm,
               HassListAddItem, HassListCompleteItem, HassListRemoveItem, TodoGetItems):
        declared(fn)
    declared(media("media_pause", "Pauses media players."), "HassMediaPause")
    declared(media("media_play", "Resumes media players."), "HassMediaUnpause")
    declared(media("media_next_track", "Skips to the next track."), "HassMediaNext")
    declared(media("media_previous_track", "Goes back to the previous track."), "HassMediaPrevious")
    declared(mute(True, "Mutes media players."), "HassMediaPlayerMute")
    declared(mute(False, "Unmutes media players."), "HassMediaPlayerUnmute")

    async def RenameDevice(ctx: ToolContext, entity: Annotated[str, "Current name or entity id"],
                           new_name: Annotated[str | None, "New name"] = None,
                           alias: Annotated[str | None, "An extra name to answer to"] = None,
                           area: Annotated[str | None, "Area to move it to"] = None) -> str:
        """Renames a device, gives it an alias, or moves it to another area. Kept across restarts."""
        e = home.entities.get(entity) or resolve(home, name=entity)[0]
        if not (new_name or alias or area):
            raise ToolError("say a new name, an alias or an area")
        try:
            updated = await home.customize(e.entity_id, name=new_name, area=area,
                                           aliases=[alias] if alias else None)
        except ValueError as error:  # a name or alias over its bound: the model can shorten it
            raise ToolError(str(error)) from None
        return f"Done: {updated.name} ({updated.area or 'no area'}); also called {', '.join(updated.aliases) or 'nothing else'}."

    async def SetAreaAlias(ctx: ToolContext, area: Annotated[str, "The area's current name"],
                           alias: Annotated[str | None, "Another name for the area"] = None,
                           floor: Annotated[str | None, "The floor it is on"] = None) -> str:
        """Gives an area (room) another name, or says which floor it is on."""
        found = home.area_named(area)
        if found is None:
            raise ToolError(f"I don't have an area called '{area}'.")
        try:
            updated = home.set_area(found.name, floor=floor, aliases=[alias] if alias else None)
        except ValueError as error:
            raise ToolError(str(error)) from None
        return f"The {updated.name} is also called {', '.join(updated.aliases) or 'nothing else'}" + (
            f", on the {updated.floor}." if updated.floor else ".")

    async def SetRiskTier(ctx: ToolContext, entity: Annotated[str, "Name or entity id"],
                          tier: Annotated[Literal["read", "write", "security"], "read, write or security"]) -> str:
        """Changes how careful Claw is with a device: 'security' makes every change to it need
        the owner's confirmation; 'read' means Claw only looks. Taking a device out of the
        security tier needs the owner's confirmation too."""
        e = home.entities.get(entity) or resolve(home, name=entity)[0]
        updated = await executor.set_tier(ctx, e, tier)
        return f"The {updated.name} is now {updated.risk_tier} tier."

    registry.add(RenameDevice, owner_only=True)
    registry.add(SetAreaAlias, owner_only=True)
    registry.add(SetRiskTier, owner_only=True)
