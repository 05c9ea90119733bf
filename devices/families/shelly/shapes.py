"""The configuration documents of an emulated Shelly, in the firmware's shapes (Gen2 API 1.x).

Kept apart from the emulator's behaviour: these are the fields Home Assistant's aioshelly and
the Shelly app read (`Shelly.GetConfig`, `<Component>.GetConfig`), with factory defaults.
"""
from __future__ import annotations

from typing import Any


def switch_config(name: str | None) -> dict[str, Any]:
    return {
        "id": 0, "name": name, "initial_state": "restore_last", "auto_on": False,
        "auto_on_delay": 60.0, "auto_off": False, "auto_off_delay": 60.0,
        "power_limit": 2500, "voltage_limit": 280, "autorecover_voltage_errors": False,
        "current_limit": 10.0,
    }


def cover_config(name: str | None, travel_time: float) -> dict[str, Any]:
    return {
        "id": 0, "name": name, "motor": {"idle_power_thr": 2, "idle_confirm_period": 0.25},
        "maxtime_open": max(0.1, travel_time * 1.2), "maxtime_close": max(0.1, travel_time * 1.2),
        "initial_state": "stopped", "invert_directions": False, "in_mode": "dual",
        "swap_inputs": False,
        "safety_switch": {"enable": False, "direction": "both", "action": "stop", "allowed_move": None},
        "power_limit": 2800, "voltage_limit": 280, "undervoltage_limit": 0, "current_limit": 10.0,
        "obstruction_detection": {"enable": False, "direction": "both", "action": "stop",
                                  "power_thr": 1000, "holdoff": 1.0},
        "slat": {"enable": False, "open_time": 1.5, "close_time": 1.5, "step": 20, "retain_pos": False,
                 "precise_ctl": False},
    }


def input_config(channel: int) -> dict[str, Any]:
    return {"id": channel, "name": None, "type": "switch", "enable": True, "invert": False,
            "factory_reset": True}


def sys_config(name: str | None, mac: str, fw_id: str, profile: str | None,
               ui_data: dict[str, Any], cfg_rev: int) -> dict[str, Any]:
    device: dict[str, Any] = {"name": name, "mac": mac, "fw_id": fw_id, "discoverable": True,
                              "eco_mode": False}
    if profile is not None:  # devices that can be a pair of relays or one cover say which
        device["profile"] = profile
    return {
        "device": device,
        "location": {"tz": "Europe/Berlin", "lat": 52.52, "lon": 13.40},
        "debug": {"level": 2, "file_level": None, "mqtt": {"enable": False},
                  "websocket": {"enable": False}, "udp": {"addr": None}},
        "ui_data": ui_data,
        "rpc_udp": {"dst_addr": None, "listen_port": None},
        "sntp": {"server": "time.google.com"},
        "cfg_rev": cfg_rev,
    }


def service_configs(device_id: str) -> dict[str, Any]:
    """The parts of `Shelly.GetConfig` that are neither the system nor a component."""
    return {
        "ble": {"enable": True, "rpc": {"enable": True}, "observer": {"enable": False}},
        "cloud": {"enable": False, "server": "shelly-103-eu.shelly.cloud:6022/jrpc"},
        "mqtt": {"enable": False, "server": None, "client_id": device_id, "user": None,
                 "ssl_ca": None, "topic_prefix": device_id, "rpc_ntf": True, "status_ntf": False,
                 "use_client_cert": False, "enable_rpc": True, "enable_control": True},
        "wifi": {"ap": {"ssid": device_id, "is_open": True, "enable": False,
                        "range_extender": {"enable": False}},
                 "sta": {"ssid": "Home", "is_open": False, "enable": True, "ipv4mode": "dhcp",
                         "ip": None, "netmask": None, "gw": None, "nameserver": None},
                 "sta1": {"ssid": None, "is_open": True, "enable": False, "ipv4mode": "dhcp",
                          "ip": None, "netmask": None, "gw": None, "nameserver": None},
                 "roam": {"rssi_thr": -80, "interval": 60}},
        "ws": {"enable": False, "server": None, "ssl_ca": "ca.pem"},
    }
