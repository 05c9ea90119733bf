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
          - "[now] (i'm|i am|im|we're|we are) [now|currently|right now] [sitting|standing|working|upstairs|downstairs] (in|at) [the] {claw_room:room} [now|right now]"
          - "(set|change) my (room|location) to [the] {claw_room:room}"
          - "my (room|location) is [the] {claw_room:room}"
          - "i (moved|went) (to|into) [the] {claw_room:room}"
  ClawWhereAmI:
    data:
      - sentences:
          - "where am i"
          - "(which|what) (room|area) am i in"
          - "(which|what) room do you think i am in"
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
          - "<claw_what_is> (connected|set up)"
      - sentences:
          - "<claw_what_is> in [the] {area}"
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
          - "(where is|where's|wheres|where are) [the|my] {name}"
          - "(which|what) (room|area) is [the|my] {name} in"
          - "in (which|what) (room|area) is [the|my] {name}"
        excludes_context:
          domain: [person, device_tracker]  # where a person is: Home Assistant's HassGetState
  HassListAddItem:
    data:
      - sentences:
          - "(add|put) {claw_item:item} (to|on|onto|in) [the|my] {name} [list]"
        requires_context:
          domain: todo
      - sentences:
          - "(add|put) {claw_item:item} (to|on|onto) [the|my] <claw_list>"
          - "(i need|we need|we're out of|we are out of) {claw_item:item}"
        slots:
          domain: todo
  HassListCompleteItem:
    data:
      - sentences:
          - "(check|tick|cross|mark) [off] {claw_item:item} (off|on|from|in) [the|my] {name} [list]"
          - "(check|tick|cross) {claw_item:item} off [the|my] {name} [list]"
          - "(complete|finish) {claw_item:item} (on|from|in) [the|my] {name} [list]"
          - "mark {claw_item:item} as (done|complete|completed|bought) (on|in) [the|my] {name} [list]"
        requires_context:
          domain: todo
      - sentences:
          - "(check|tick|cross|mark) [off] {claw_item:item} (off|on|from) [the|my] <claw_list>"
          - "(check|tick|cross) {claw_item:item} off [the|my] <claw_list>"
          - "mark {claw_item:item} as (done|complete|completed|bought)"
          - "i (bought|got|did) [the] {claw_item:item}"
        slots:
          domain: todo
  HassListRemoveItem:
    data:
      - sentences:
          - "(remove|delete|take) {claw_item:item} (from|off) [the|my] {name} [list]"
        requires_context:
          domain: todo
      - sentences:
          - "(remove|delete|take) {claw_item:item} (from|off) [the|my] <claw_list>"
        slots:
          domain: todo
  TodoGetItems:
    data:
      - sentences:
          - "<claw_what_is> on [the|my] {name} [list]"
          - "(read|show|tell) [me] [the|my] {name} [list]"
          - "what do i (have|need) on [the|my] {name} [list]"
        requires_context:
          domain: todo
      - sentences:
          - "<claw_what_is> on [the|my] <claw_list>"
          - "(read|show|tell) [me] [the|my] <claw_list>"
          - "(read|show) me what is on [the|my] <claw_list>"
          - "what do i (have|need) (on|to) [the|my] <claw_list>"
          - "what do (i|we) need [to buy|to get|from the shops|from the store]"
          - "what (do i|should i|must i) buy"
        slots:
          domain: todo
  VacuumStop:
    data:
      - sentences:
          - "(stop|pause|halt) [the] {name} [cleaning|vacuuming]"
          - "(stop|pause|halt) [the] {area} {name}"
          - "{name} stop"
        requires_context:
          domain: vacuum
      - sentences:
          - "(stop|pause|halt) [the] <claw_vacuum> [cleaning|vacuuming]"
          - "(stop|pause) (cleaning|vacuuming|hoovering)"
        slots:
          domain: vacuum
  HassVacuumStart:
    data:
      - sentences:
          - "{name} (start|go) [cleaning|vacuuming]"
          - "(let|tell) [the] {name} (clean|vacuum|start)"
        requires_context:
          domain: vacuum
      - sentences:
          - "(start|run|turn on) [the] <claw_vacuum> [cleaning|vacuuming]"
          - "(start|begin) (cleaning|vacuuming|hoovering)"
          - "(vacuum|hoover|clean) [the] (house|floor|floors|whole house|home)"
        slots:
          domain: vacuum
  HassVacuumCleanArea:
    data:
      - sentences:
          - "(have|let|tell|get|send) [the] {name} [to] (clean|vacuum|hoover) [the] {area}"
          - "{name} (clean|vacuum|hoover) [the] {area}"
        requires_context:
          domain: vacuum
      - sentences:
          - "(have|let|tell|get|send) [the] <claw_vacuum> [to] (clean|vacuum|hoover) [the] {area}"
          - "(start|begin) (cleaning|vacuuming|hoovering) [in] [the] {area}"
        slots:
          domain: vacuum
  HassVacuumReturnToBase:
    data:
      - sentences:
          - "(send|return) [the] {name} (home|back|<claw_dock>|back <claw_dock>)"
          - "{name} go (home|back|<claw_dock>|back <claw_dock>)"
          - "(dock|park) [the] {name}"
        requires_context:
          domain: vacuum
      - sentences:
          - "(send|return) [the] <claw_vacuum> (home|back|<claw_dock>|back <claw_dock>)"
          - "(dock|park) [the] <claw_vacuum>"
        slots:
          domain: vacuum
  AlarmArm:
    data:
      - sentences:
          - "arm [the] {name} [(in|to|for) {claw_mode:mode} [mode]]"
          - "(set|put) [the] {name} (to|in|on) {claw_mode:mode} [mode]"
        requires_context:
          domain: alarm_control_panel
      - sentences:
          - "arm [the] (<claw_alarm>|security|house) [(in|to|for) {claw_mode:mode} [mode]]"
          - "(set|put) [the] <claw_alarm> (to|in|on) {claw_mode:mode} [mode]"
          - "(turn on|switch on|activate|enable) [the] <claw_alarm> [(in|to|for) {claw_mode:mode} [mode]]"
          - "(put|turn|switch) [the] <claw_alarm> on [(in|to|for) {claw_mode:mode} [mode]]"
        slots:
          domain: alarm_control_panel
  AlarmDisarm:
    data:
      - sentences:
          - "disarm [the] {name}"
        requires_context:
          domain: alarm_control_panel
      - sentences:
          - "disarm [the] (<claw_alarm>|security|house)"
          - "(turn off|switch off|deactivate|disable) [the] <claw_alarm>"
        slots:
          domain: alarm_control_panel
  HassTurnOn:
    data:
      - sentences:
          - "open [the] {area}"
        slots:
          domain: cover
        response: cover
      - sentences:
          - "put [the] {name} on"
        requires_context:
          domain: [switch, light, fan, media_player]
      - sentences:
          - "(turn|switch) on everything (in|on) [the] {area}"
          - "(turn|switch) everything on (in|on) [the] {area}"
        response: claw
      - sentences:
          - "(turn|switch) on (all [the]|every) lights [<claw_everywhere>]"
          - "(turn|switch) (all [the]|every) lights on [<claw_everywhere>]"
          - "(turn|switch) on the lights <claw_everywhere>"
        slots:
          domain: light
        response: light_all
      - sentences:
          - "lock (all [the]|every) doors"
          - "lock [up] [the] (house|home)"
        slots:
          domain: lock
        response: lock
  HassSetPosition:
    data:
      - sentences:
          - "(open|close|lower|raise) [the] {name} (halfway|half way)"
          - "(open|close|lower|raise) [the] {name} to (halfway|half way)"
        requires_context:
          domain: [cover, valve]
        slots:
          position: 50
  HassClimateSetTemperature:
    data:
      - sentences:
          - "(<numeric_value_set>|adjust|heat|warm) [<the>] {area} [heating|heat] to {temperature}([ ]°| degree[s])"
        response: default
  HassLightSet:
    data:
      - sentences:
          - "(dim|brighten|<numeric_value_set>) [<the>] {area} to {brightness}[%| percent]"
        slots:
          domain: light
        response: brightness
  HassGetState:
    data:
      - sentences:
          - "(is|are) [<the>] {area} {cover_states:state}"
        slots:
          domain: cover
        response: one_yesno
  HassTurnOff:
    data:
      - sentences:
          - "close [the] {area}"
        slots:
          domain: cover
        response: cover
      - sentences:
          - "(turn|switch) off everything (in|on) [the] {area}"
          - "(turn|switch) everything off (in|on) [the] {area}"
        response: claw
      - sentences:
          - "(turn|switch) off (all [the]|every) lights [<claw_everywhere>]"
          - "(turn|switch) (all [the]|every) lights off [<claw_everywhere>]"
          - "(turn|switch) off the lights <claw_everywhere>"
        slots:
          domain: light
        response: light_all
      - sentences:
          - "unlock (all [the]|every) doors"
        slots:
          domain: lock
        response: lock
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
          - "mute [the] {area}"
          - "mute [the] (music|speaker|sound|tv) in [the] {area}"
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
          - "turn [the] (music|sound) {volume_step} [in|on] [the] {area}"
          - "turn {volume_step} [the] (music|sound) [in|on] [the] {area}"
      - sentences:
          - "turn [the] (music|sound) {volume_step}"
          - "turn {volume_step} [the] (music|sound)"
        requires_context:
          area:
            slot: true
      - sentences:
          - "[turn] [the] (volume|music) {volume_step} (everywhere|in [the] (whole|entire) (house|home)|in every room|on all [the] speakers)"
          - "turn {volume_step} [the] (volume|music) (everywhere|in [the] (whole|entire) (house|home)|in every room|on all [the] speakers)"
        slots:
          scope: house
expansion_rules:
  claw_what_is: "(what is|what's|whats|tell me what's|tell me what is)"
  claw_list: "(list|shopping list|grocery list|to-do list|to do list|todo list|shopping|groceries)"
  claw_vacuum: "(vacuum|vacuum cleaner|robot vacuum|robot|hoover|roomba)"
  claw_dock: "to [the] (dock|base|charger|charging station)"
  claw_alarm: "(alarm|house alarm|burglar alarm|security system|alarm system)"
  claw_everywhere: "(everywhere|in every room|in all [the] rooms|in the (whole|entire) (house|home)|throughout the (house|home)|in the house)"
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
HOUSE_QUESTIONS = {"ClawHelp", "ClawListDevices", "ClawListRooms", "ClawWhereIs", "ClawWhereAmI"}
# Intents that only ask (a compound with one of them changes nothing).
ASKED = {"HassGetState", "HassClimateGetTemperature", "TodoGetItems", *HOUSE_QUESTIONS}


def merged(data: dict[str, Any]) -> dict[str, Any]:
    """Home Assistant's sentence data with ours added (a new copy; theirs is shared)."""
    intents = {name: {**body, "data": list(body["data"])} for name, body in data["intents"].items()}
    for name, body in SENTENCES["intents"].items():
        intents.setdefault(name, {"data": []})["data"] += body["data"]
    return {**data, "intents": intents, "lists": {**data.get("lists", {}), **SENTENCES["lists"]},
            "expansion_rules": {**data.get("expansion_rules", {}), **SENTENCES["expansion_rules"]}}
