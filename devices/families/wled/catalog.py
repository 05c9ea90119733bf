"""What an emulated WLED serves besides its state: effects, palettes, effect metadata, the LED
configuration and the presets it starts with (WLED 0.14 shapes)."""
from __future__ import annotations

from typing import Any

# The first effects and palettes of WLED 0.14, in firmware order (the index is the id).
EFFECTS = [
    "Solid", "Blink", "Breathe", "Wipe", "Wipe Random", "Random Colors", "Sweep", "Dynamic",
    "Colorloop", "Rainbow", "Scan", "Scan Dual", "Fade", "Theater", "Theater Rainbow", "Running",
    "Saw", "Twinkle", "Dissolve", "Dissolve Rnd", "Sparkle", "Sparkle Dark", "Sparkle+", "Strobe",
    "Strobe Rainbow", "Strobe Mega", "Blink Rainbow", "Android", "Chase", "Chase Random",
    "Chase Rainbow", "Chase Flash", "Chase Flash Rnd", "Rainbow Runner", "Colorful",
    "Traffic Light", "Sweep Random", "Chase 2", "Aurora", "Stream", "Scanner", "Lighthouse",
    "Fireworks", "Rain", "Tetrix", "Fire Flicker", "Gradient", "Loading", "Rolling Balls",
    "Fairy", "Two Dots", "Fairytwinkle", "Running Dual", "Halloween", "Chase 3", "Tri Wipe",
    "Tri Fade", "Lightning", "ICU", "Multi Comet", "Scanner Dual", "Stream 2", "Oscillate",
    "Pride 2015", "Juggle", "Palette", "Fire 2012", "Colorwaves", "Bpm", "Fill Noise", "Noise 1",
    "Noise 2", "Noise 3", "Noise 4", "Colortwinkles", "Lake", "Meteor", "Meteor Smooth",
    "Railway", "Ripple",
]
PALETTES = [
    "Default", "* Random Cycle", "* Color 1", "* Colors 1&2", "* Color Gradient", "* Colors Only",
    "Party", "Cloud", "Lava", "Ocean", "Forest", "Rainbow", "Rainbow Bands", "Sunset",
    "Rivendell", "Breeze", "Red & Blue", "Yellowout", "Analogous", "Splash", "Pastel",
    "Sunset 2", "Beach", "Vintage", "Departure", "Landscape", "Beech", "Sherbet", "Hult",
]
# /json/fxdata: one metadata string per effect (sliders; colours; palette). Solid has none.
FXDATA = [""] + ["!,!;!,!;!" for _ in EFFECTS[1:]]

# presets.json as a fresh controller with two saved looks has it ("0" is always the empty one).
PRESETS: dict[str, Any] = {
    "0": {},
    "1": {"n": "Evening", "on": True, "bri": 90, "transition": 7, "mainseg": 0,
          "seg": [{"id": 0, "col": [[255, 120, 30], [0, 0, 0], [0, 0, 0]], "fx": 2, "sx": 60, "pal": 0}]},
    "2": {"n": "Party", "on": True, "bri": 255, "transition": 7, "mainseg": 0,
          "seg": [{"id": 0, "col": [[255, 0, 255], [0, 0, 0], [0, 0, 0]], "fx": 9, "sx": 200, "pal": 6}]},
}


def led_config(leds: int, name: str) -> dict[str, Any]:
    """/json/cfg, the parts a client reads: the LED hardware setup and the device's name."""
    return {
        "id": {"mdns": name.lower().replace(" ", "-"), "name": name},
        "hw": {"led": {
            "total": leds, "maxpwr": 850, "ledma": 55, "cct": False, "cr": False, "cb": 0,
            "fps": 42, "rgbwm": 255, "ld": False,
            "ins": [{"start": 0, "len": leds, "pin": [16], "order": 0, "rev": False, "skip": 0,
                     "type": 22, "ref": False, "rgbwm": 0, "freq": 0}],
        }},
    }
