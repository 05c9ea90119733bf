"""Sentences Home Assistant's templates do not have, in hassil's own format, added to them:
where the speaker is, questions about the house itself, to-do lists, stopping a vacuum, arming
and disarming, and whole-house media. Slot values use the same lists as Home Assistant's
sentences (`name`, `area`), so the live names of the house fill them in.
"""
from __future__ import annotations

from typing import Any

import yaml

SENTENCES = yaml.safe_load(r"""
intents:
  ClawInRoom:
    data:
      - sentences:
          - "(i'm|i am|im|we're|we are) [now|currently|right now] (in|at) [the] {claw_room:room} [now|right now]"
          - "(set|change) my (room|location) to [the] {claw_room:room}"
          - "my (room|location) is [the] {claw_room:room}"
          - "i (moved|went) (to|into) [the] {claw_room:room}"
  ClawHelp:
    data:
      - sentences:
          - "what (can|do) you do [for me]"
          - "what can i (say|ask) [you]"
          - "what do you (understand|know how to do)"
          - "how can you help [me]"
          - "help [me]"
  ClawListDevices:
    data:
      - sentences:
          - "what (devices|things|stuff) (do you have|have you got|are there|can you control|do you see|do you know [about]) [in [the] house|in [my] home]"
          - "(list|show [me]) [all] [the|my|your] devices"
          - "what do you (have|control|see) [in [the] house|in [my] home]"
          - "what (is|'s) (connected|set up)"
      - sentences:
          - "what (is|'s) in [the] {area}"
          - "what (devices|things) are (in|on) [the] {area}"
          - "what do you have in [the] {area}"
          - "(list|show [me]) [the] devices in [the] {area}"
  ClawListRooms:
    data:
      - sentences:
          - "what (rooms|areas) (are there|do you know [about]|do you have|does the house have)"
          - "(list|show [me]) [the|all] [the] (rooms|areas)"
          - "which (rooms|areas) (are there|do you know [about]|do you have)"
  ClawWhereIs:
    data:
      - sentences:
          - "where (is|'s|are) [the|my] {name}"
          - "(which|what) (room|area) is [the|my] {name} in"
          - "in (which|what) (room|area) is [the|my] {name}"
        excludes_context:
          domain: [person, device_tracker]  # where a person is: Home Assistant's HassGetState
  HassListAddItem:
    data:
      - sentences:
          - "(add|put) {claw_item:item} (to|on|onto|in) [the|my] {name} [list]"
          - "(add|put) {claw_item:item} (to|on|onto) [the|my] list"
          - "(add|put) {claw_item:item} (to|on|onto) [the|my] (shopping|grocery|to-do|to do|todo) list"
        requires_context:
          domain: todo
  HassListCompleteItem:
    data:
      - sentences:
          - "(check|tick|cross|mark) [off] {claw_item:item} (off|on|from|in) [the|my] {name} [list]"
          - "(check|tick|cross) {claw_item:item} off [the|my] {name} [list]"
          - "(complete|finish) {claw_item:item} (on|from|in) [the|my] {name} [list]"
          - "mark {claw_item:item} as (done|complete|completed|bought) (on|in) [the|my] {name} [list]"
          - "(check|tick|cross) [off] {claw_item:item} (off|on|from) [the|my] (list|shopping list|grocery list|to-do list|to do list|todo list)"
          - "(check|tick|cross) {claw_item:item} off [the|my] (list|shopping list|grocery list|to-do list|to do list|todo list)"
          - "mark {claw_item:item} as (done|complete|completed|bought)"
        requires_context:
          domain: todo
  HassListRemoveItem:
    data:
      - sentences:
          - "(remove|delete|take) {claw_item:item} (from|off) [the|my] {name} [list]"
          - "(remove|delete|take) {claw_item:item} (from|off) [the|my] (list|shopping list|grocery list|to-do list|to do list|todo list)"
        requires_context:
          domain: todo
  TodoGetItems:
    data:
      - sentences:
          - "(what is|what's|whats) on [the|my] {name} [list]"
          - "(read|show|tell) [me] [the|my] {name} [list]"
          - "what do i (have|need) on [the|my] {name} [list]"
          - "(what is|what's|whats) on [the|my] (list|shopping list|grocery list|to-do list|to do list|todo list)"
          - "(read|show|tell) [me] [the|my|what's on the|what is on the] (list|shopping list|grocery list|to-do list|to do list|todo list)"
          - "what do i (have|need) (on|to) [the|my] (list|shopping list|grocery list|to-do list|to do list|todo list)"
          - "what do i need to buy"
        requires_context:
          domain: todo
  VacuumStop:
    data:
      - sentences:
          - "(stop|pause|halt) [the] {name} [cleaning|vacuuming]"
          - "(stop|pause|halt) [the] {area} {name}"
          - "(stop|pause|halt) [the] (vacuum|vacuum cleaner|robot vacuum|robot|hoover|roomba) [cleaning|vacuuming]"
          - "(stop|pause) (cleaning|vacuuming|hoovering)"
        requires_context:
          domain: vacuum
  HassVacuumStart:
    data:
      - sentences:
          - "(start|run) [the] (vacuum|vacuum cleaner|robot vacuum|robot|hoover|roomba) [cleaning|vacuuming]"
          - "(start|begin) (cleaning|vacuuming|hoovering)"
          - "(vacuum|hoover|clean) [the] (house|floor|floors|whole house|home)"
        requires_context:
          domain: vacuum
  HassVacuumReturnToBase:
    data:
      - sentences:
          - "(send|return) [the] (vacuum|vacuum cleaner|robot vacuum|robot|hoover|roomba) (home|back|to [the] (dock|base|charger)|back to [the] (dock|base|charger))"
          - "(dock|park) [the] (vacuum|vacuum cleaner|robot vacuum|robot|hoover|roomba)"
        requires_context:
          domain: vacuum
  AlarmArm:
    data:
      - sentences:
          - "arm [the] {name} [(in|to) {claw_mode:mode} [mode]]"
          - "arm [the] (alarm|house alarm|security system|security|house) [(in|to|for) {claw_mode:mode} [mode]]"
          - "set [the] (alarm|house alarm|security system) to {claw_mode:mode} [mode]"
          - "(set|put) [the] {name} (to|in) {claw_mode:mode} [mode]"
          - "(turn on|switch on|activate|enable) [the] (alarm|house alarm|security system) [(in|to|for) {claw_mode:mode} [mode]]"
        requires_context:
          domain: alarm_control_panel
  AlarmDisarm:
    data:
      - sentences:
          - "disarm [the] {name}"
          - "disarm [the] (alarm|house alarm|security system|security|house)"
          - "(turn off|switch off|deactivate|disable) [the] (alarm|house alarm|security system)"
        requires_context:
          domain: alarm_control_panel
  HassMediaPause:
    data:
      - sentences:
          - "(pause|stop) [all] [the] (music|media|audio|playback|speakers) (everywhere|in [the] (whole|entire) (house|home)|in every room|in all [the] rooms)"
          - "(pause|stop) (all [the] music|all [the] speakers|everything|all media|all playback)"
          - "(pause|stop) [the] music on all [the] speakers"
        slots:
          scope: house
  HassMediaUnpause:
    data:
      - sentences:
          - "(resume|unpause|continue) [all] [the] (music|media|playback|speakers) (everywhere|in [the] (whole|entire) (house|home)|in every room|in all [the] rooms)"
          - "(resume|unpause) (all [the] music|all [the] speakers|everything)"
        slots:
          scope: house
  HassMediaPlayerMute:
    data:
      - sentences:
          - "mute (everything|everywhere|all [the] speakers|all [the] music|the (whole|entire) house)"
          - "mute [all] [the] (music|speakers) (everywhere|in [the] (whole|entire) (house|home)|in every room)"
        slots:
          scope: house
  HassMediaPlayerUnmute:
    data:
      - sentences:
          - "unmute (everything|everywhere|all [the] speakers|all [the] music|the (whole|entire) house)"
          - "unmute [all] [the] (music|speakers) (everywhere|in [the] (whole|entire) (house|home)|in every room)"
        slots:
          scope: house
  HassSetVolume:
    data:
      - sentences:
          - "(set|change|turn) [the] volume (to|at) {volume:volume_level}[([ ]%)| percent] (everywhere|in [the] (whole|entire) (house|home)|in every room|on all [the] speakers)"
        slots:
          scope: house
  HassSetVolumeRelative:
    data:
      - sentences:
          - "[turn] [the] (volume|music) {volume_step} (everywhere|in [the] (whole|entire) (house|home)|in every room|on all [the] speakers)"
          - "turn {volume_step} [the] (volume|music) (everywhere|in [the] (whole|entire) (house|home)|in every room|on all [the] speakers)"
        slots:
          scope: house
lists:
  claw_room:
    wildcard: true
  claw_item:
    wildcard: true
  claw_mode:
    values:
      - away
      - home
      - night
      - in: stay
        out: home
      - in: vacation
        out: vacation
""")

# Intents of our own whose answer comes from the house itself, not from a tool.
HOUSE_QUESTIONS = {"ClawHelp", "ClawListDevices", "ClawListRooms", "ClawWhereIs"}


def merged(data: dict[str, Any]) -> dict[str, Any]:
    """Home Assistant's sentence data with ours added (a new copy; theirs is shared)."""
    intents = {name: {**body, "data": list(body["data"])} for name, body in data["intents"].items()}
    for name, body in SENTENCES["intents"].items():
        intents.setdefault(name, {"data": []})["data"] += body["data"]
    return {**data, "intents": intents, "lists": {**data.get("lists", {}), **SENTENCES["lists"]}}
