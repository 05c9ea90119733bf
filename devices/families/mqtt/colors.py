"""Colour as MQTT lights carry it: CIE xy and hue/saturation, to and from sRGB.

Zigbee lights report xy (Zigbee2MQTT's `color: {x, y}`); Home Assistant's JSON light schema also
carries hs. Claw's entities speak `rgb_color`, as Home Assistant's do.
"""
from __future__ import annotations

import colorsys


def rgb_to_xy(rgb: tuple[int, int, int] | list[int]) -> tuple[float, float]:
    """sRGB -> CIE xy (gamma-expanded, then the Wide RGB D65 matrix, as Philips documents)."""
    def linear(c: float) -> float:
        c /= 255
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (linear(c) for c in rgb)
    x = r * 0.664511 + g * 0.154324 + b * 0.162028
    y = r * 0.283881 + g * 0.668433 + b * 0.047685
    z = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x + y + z
    if total == 0:
        return 0.3127, 0.3290  # black has no chromaticity: the white point
    return round(x / total, 4), round(y / total, 4)


def xy_to_rgb(x: float, y: float) -> tuple[int, int, int]:
    """CIE xy -> sRGB at full brightness (the inverse of rgb_to_xy, scaled so the top is 255)."""
    if y <= 0:
        return 255, 255, 255
    big_x, big_z = x / y, (1 - x - y) / y
    r = big_x * 1.656492 - 1 * 0.354851 - big_z * 0.255038
    g = -big_x * 0.707196 + 1 * 1.655397 + big_z * 0.036152
    b = big_x * 0.051713 - 1 * 0.121364 + big_z * 1.011530

    def gamma(c: float) -> float:
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    channels = [max(0.0, gamma(c)) for c in (r, g, b)]
    top = max(channels) or 1.0
    return tuple(round(255 * c / top) for c in channels)  # type: ignore[return-value]


def rgb_to_hs(rgb: tuple[int, int, int] | list[int]) -> tuple[float, float]:
    """sRGB -> (hue in degrees, saturation in percent), as Home Assistant's hs_color."""
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return round(h * 360, 1), round(s * 100, 1)


def hs_to_rgb(hue: float, saturation: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((hue % 360) / 360, max(0.0, min(100.0, saturation)) / 100, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def mired_to_kelvin(mired: float) -> int:
    return round(1_000_000 / mired) if mired > 0 else 0


def kelvin_to_mired(kelvin: float) -> int:
    return round(1_000_000 / kelvin)
