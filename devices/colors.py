"""Colour names people say, and colour temperature as RGB, for lights that take either."""
from __future__ import annotations

import math
import re
from typing import Any

from devices.model import DeviceError

# CSS values where CSS has the name.
COLOR_NAMES_RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0), "crimson": (220, 20, 60), "coral": (255, 127, 80),
    "salmon": (250, 128, 114), "orange": (255, 165, 0), "amber": (255, 191, 0),
    "gold": (255, 215, 0), "yellow": (255, 255, 0), "lime": (0, 255, 0),
    "green": (0, 128, 0), "teal": (0, 128, 128), "turquoise": (64, 224, 208),
    "cyan": (0, 255, 255), "aqua": (0, 255, 255), "skyblue": (135, 206, 235),
    "lightblue": (173, 216, 230), "blue": (0, 0, 255), "navy": (0, 0, 128),
    "indigo": (75, 0, 130), "purple": (128, 0, 128), "violet": (238, 130, 238),
    "lavender": (230, 230, 250), "magenta": (255, 0, 255), "fuchsia": (255, 0, 255),
    "pink": (255, 192, 203), "hotpink": (255, 105, 180), "white": (255, 255, 255),
}
# Whites people name by feel, as colour temperatures.
COLOR_NAMES_KELVIN: dict[str, int] = {
    "candlelight": 2000, "candle": 2000, "warmwhite": 2700, "softwhite": 2700,
    "neutralwhite": 4000, "coolwhite": 4000, "daylight": 6500, "coldwhite": 6500,
}


def color_name_target(name: str) -> tuple[str, Any]:
    """A colour name -> ("rgb", (r, g, b)) or ("kelvin", K); DeviceError if unknown."""
    key = re.sub(r"[\s_-]+", "", name.lower()).replace("grey", "gray")
    if key in COLOR_NAMES_KELVIN:
        return "kelvin", COLOR_NAMES_KELVIN[key]
    if key in COLOR_NAMES_RGB:
        return "rgb", COLOR_NAMES_RGB[key]
    raise DeviceError(f"I don't know the colour {name!r}; try red, blue, green, orange, purple, "
                      "pink, warm white or daylight, or give an RGB value.")


def kelvin_to_rgb(kelvin: float) -> tuple[int, int, int]:
    """The RGB of a black body at `kelvin` (Tanner Helland's fit, good from 1000 to 40000 K)."""
    t = max(1000.0, min(40000.0, kelvin)) / 100
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * math.log(t) - 161.1195681661
        b = 0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0
    return tuple(round(max(0.0, min(255.0, c))) for c in (r, g, b))  # type: ignore[return-value]
