"""Configuration: `CLAW_HOME/claw.toml` plus environment overrides.

Every problem becomes one ConfigError line that names the key and says what is wrong; the CLI
prints it and exits with status 2.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
import tomllib
import zoneinfo
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import home_assistant_intents


class ConfigError(Exception):
    """Invalid configuration; the message is one line a person can act on."""


def bounded(default: float, low: float, high: float) -> Any:
    """A numeric setting with the range it must lie in (NaN and infinity never do)."""
    return field(default=default, metadata={"range": (low, high)})


TOKEN_FILE = "api-token"
MIN_TOKEN_LENGTH = 16


@dataclass
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = bounded(8765, 1, 65535)
    # The owner's API token. Empty in claw.toml: Claw generates one into CLAW_HOME/api-token.
    token: str = ""
    # Names (or addresses) the API is reached by besides loopback, e.g. "claw.local".
    allowed_hosts: list[str] = field(default_factory=list)


@dataclass
class AnthropicConfig:
    api_key: str = ""
    base_url: str = ""
    model: str = "claude-sonnet-4-6"
    max_tokens: int = bounded(1024, 1, 64_000)
    timeout: float = bounded(30.0, 1, 600)


@dataclass
class LocalModelConfig:
    model_path: str = ""  # empty: no local model
    n_gpu_layers: int = bounded(-1, -1, 10_000)  # -1: all layers when the build has a GPU backend
    n_ctx: int = bounded(4096, 512, 1_048_576)
    threads: int = bounded(0, 0, 1024)  # 0: llama.cpp's default
    chat_format: str = ""  # empty: from the GGUF's template
    # An OpenAI-compatible server in the house (llama-server, Ollama, vLLM, LM Studio) instead of a
    # GGUF in this process, e.g. "http://gpu-box:8080/v1"; `model` is the name it serves.
    url: str = ""
    model: str = ""
    api_key: str = ""
    # "json_object": llama-cpp-python's server (a schema inside json_object); "json_schema": the
    # OpenAI standard (vLLM, LM Studio, Ollama); "none": unconstrained, checked after.
    response_format: str = "json_object"
    timeout: float = bounded(60.0, 1, 600)
    # The server never leaves the house, so private requests may go there; false for one outside.
    in_house: bool = True


@dataclass
class TelegramConfig:
    token: str = ""
    base_url: str = ""  # Bot API base, e.g. a loopback stand-in in tests


@dataclass
class HomeAssistantConfig:
    token: str = ""  # long-lived access token; can also be given by chat
    # Where that token may go ("https://ha.example:8123"); without it, claw.toml's token goes nowhere.
    url: str = ""
    ca_file: str = ""  # PEM CA to check an https url's certificate with (default: the system's CAs)


@dataclass
class MqttConfig:
    # The broker Zigbee2MQTT and MQTT-discovery devices publish to ("mqtt://host:1883" or
    # "mqtts://host:8883"); none: no MQTT.
    url: str = ""
    username: str = ""
    password: str = ""
    ca_file: str = ""  # PEM CA to check an mqtts:// broker's certificate with (default: the system's)
    discovery_prefix: str = "homeassistant"
    zigbee2mqtt_base: str = "zigbee2mqtt"


@dataclass
class DiscoveryConfig:
    enabled: bool = True
    interfaces: list[str] = field(default_factory=lambda: ["all"])
    ssdp_interval: float = bounded(30.0, 1, 86_400)
    # Set by `claw demo`: adopt only the emulated house with this id (devices/emulators/house.py).
    demo_house: str = ""


@dataclass
class PrivacyConfig:
    # Camera pictures are looked at by the local model only, never sent to the cloud.
    images_stay_local: bool = False


@dataclass
class AlertsConfig:
    quiet_hours: str = ""  # "22:00-07:00": alerts arrive silently then (urgent ones still ring)
    camera_interval: float = bounded(5.0, 0.5, 86_400)  # seconds between camera-change snapshots
    heartbeat_minutes: float = bounded(60.0, 0, 10_080)  # 0 turns the heartbeat off
    heartbeat_daily_tokens: int = bounded(30_000, 0, 10_000_000)


@dataclass
class LocationConfig:
    # Where the house is, for sunrise and sunset (computed offline). NaN: not set, and then
    # automations at sunrise, at sunset or "after dark" are refused with a sentence saying so.
    latitude: float = bounded(math.nan, -90, 90)
    longitude: float = bounded(math.nan, -180, 180)
    timezone: str = ""  # an IANA name such as "Europe/Zurich"; empty: this machine's own

    @property
    def known(self) -> bool:
        return math.isfinite(self.latitude) and math.isfinite(self.longitude)


@dataclass
class HistoryConfig:
    retention_days: float = bounded(30.0, 1, 3650)  # every state change is kept this long


@dataclass
class AgentConfig:
    language: str = "en"  # for the fast path's sentence templates
    max_tool_iterations: int = bounded(6, 1, 50)
    device_timeout: float = bounded(3.0, 0.1, 120)
    # Seconds the owner has to confirm a security action; bounded so an unlock never waits forever.
    confirm_timeout: float = bounded(60.0, 1, 3600)


@dataclass
class Config:
    home: Path
    http: HttpConfig = field(default_factory=HttpConfig)
    anthropic: AnthropicConfig = field(default_factory=AnthropicConfig)
    local: LocalModelConfig = field(default_factory=LocalModelConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    home_assistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    location: LocationConfig = field(default_factory=LocationConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)

    @property
    def db_path(self) -> Path:
        return self.home / "claw.db"

    @property
    def soul_path(self) -> Path:
        return self.home / "soul.md"

    @property
    def config_path(self) -> Path:
        return self.home / "claw.toml"


SECTIONS = {
    "http": HttpConfig,
    "anthropic": AnthropicConfig,
    "local": LocalModelConfig,
    "telegram": TelegramConfig,
    "discovery": DiscoveryConfig,
    "home_assistant": HomeAssistantConfig,
    "mqtt": MqttConfig,
    "agent": AgentConfig,
    "privacy": PrivacyConfig,
    "alerts": AlertsConfig,
    "location": LocationConfig,
    "history": HistoryConfig,
}

# Environment variable -> (section, key). The SDK's own variables are honoured the way it does.
ENV = {
    "ANTHROPIC_API_KEY": ("anthropic", "api_key"),
    "ANTHROPIC_BASE_URL": ("anthropic", "base_url"),
    "CLAW_MODEL": ("anthropic", "model"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
    "TELEGRAM_BASE_URL": ("telegram", "base_url"),
    "CLAW_HTTP_HOST": ("http", "host"),
    "CLAW_HTTP_PORT": ("http", "port"),
    "CLAW_HTTP_TOKEN": ("http", "token"),
    "CLAW_LOCAL_MODEL": ("local", "model_path"),
    "CLAW_LOCAL_URL": ("local", "url"),
    "CLAW_DISCOVERY": ("discovery", "enabled"),
    "CLAW_DISCOVERY_INTERFACES": ("discovery", "interfaces"),
    "HOME_ASSISTANT_TOKEN": ("home_assistant", "token"),
}


def default_home() -> Path:
    return Path(os.environ.get("CLAW_HOME") or Path.home() / ".claw").expanduser()


def load(home: Path | None = None, env: dict[str, str] | None = None,
         token_home: Path | None = None) -> Config:
    """The configuration in `home`; the API token lives in `token_home` (default: `home`)."""
    home = home or default_home()
    env = dict(os.environ) if env is None else env
    raw: dict[str, Any] = {}
    path = home / "claw.toml"
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot read it: {e}") from None
    for var, (section, key) in ENV.items():
        if env.get(var):
            raw.setdefault(section, {})[key] = env[var]

    config = Config(home=home)
    for section, values in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: '{section}' must be a [section] table")
        setattr(config, section, _build(SECTIONS[section], section, values, path))
    _check(config)
    if not config.http.token:
        config.http.token = api_token(token_home or home)
    return config


def api_token(home: Path) -> str:
    """The owner's API token from CLAW_HOME/api-token, made (mode 0600) on first use.

    Whoever can read this file can act as the owner over the API: `claw chat` and `claw demo`
    read it, a web page on another site cannot."""
    path = home / TOKEN_FILE
    try:
        if not path.exists():
            home.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path} can be read by other users of this machine; "
                              f"run `chmod 600 {path}` (or delete it for a new token)")
        token = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"{path}: cannot make or read the API token ({e.strerror}); "
                          "set CLAW_HOME to a folder you can write") from None
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{path} holds no usable token; delete it and Claw makes a new one")
    return token


def _build(cls: type, section: str, values: dict[str, Any], path: Path) -> Any:
    known = {f.name: f for f in fields(cls)}
    obj = cls()
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {section}.{key} (known: {', '.join(known)})")
        name = f"{section}.{key}"
        coerced = _coerce(name, getattr(obj, key), value)
        if "range" in known[key].metadata:
            _check_range(name, coerced, *known[key].metadata["range"])
        setattr(obj, key, coerced)
    return obj


def _coerce(name: str, default: Any, value: Any) -> Any:
    """Convert to the default's type; environment values arrive as strings."""
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if kind is int:
            if number != int(number):
                raise ConfigError(f"{name} must be a whole number, got {value!r}")
            return int(number)
        return number
    if kind is list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{name} must be a list of strings, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low:g} to {high:g}, got {value:g}")


def is_loopback(host: str) -> bool:
    """True for a loopback address or the name `localhost` (not for names like 127.evil.example)."""
    host = host.strip("[]")
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(name: str, url: str) -> None:
    if url and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", url):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")


def _check(config: Config) -> None:
    if not config.http.host.strip():
        raise ConfigError("http.host must not be empty (use 127.0.0.1 to stay on this machine)")
    if config.http.token and len(config.http.token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"http.token is too short ({len(config.http.token)} characters): use at "
                          f"least {MIN_TOKEN_LENGTH}, or leave it out and Claw makes one")
    for host in config.http.allowed_hosts:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?", host):
            raise ConfigError(f"http.allowed_hosts: {host!r} is not a host name or address")
    for iface in config.discovery.interfaces:
        if iface != "all" and not _is_address(iface):
            raise ConfigError(f"discovery.interfaces: {iface!r} is not an IP address or 'all'")
    _check_url("anthropic.base_url", config.anthropic.base_url)
    _check_url("telegram.base_url", config.telegram.base_url)
    _check_url("home_assistant.url", config.home_assistant.url)
    if config.home_assistant.ca_file and not Path(config.home_assistant.ca_file).expanduser().is_file():
        raise ConfigError(f"home_assistant.ca_file: no file at {config.home_assistant.ca_file}")
    _check_mqtt(config.mqtt)
    if not config.anthropic.model.strip():
        raise ConfigError("anthropic.model must not be empty")
    languages = home_assistant_intents.get_languages()
    if config.agent.language not in languages:
        raise ConfigError(f"agent.language {config.agent.language!r} has no command sentences; "
                          f"use one of {', '.join(sorted(languages))}")
    if config.local.model_path and not Path(config.local.model_path).expanduser().is_file():
        raise ConfigError(f"local.model_path: no file at {config.local.model_path}")
    _check_url("local.url", config.local.url)
    if config.local.url and config.local.model_path:
        raise ConfigError("local: set either model_path (a GGUF here) or url (a server), not both")
    if config.local.response_format not in ("json_object", "json_schema", "none"):
        raise ConfigError("local.response_format must be json_object, json_schema or none, "
                          f"got {config.local.response_format!r}")
    location = config.location
    if math.isfinite(location.latitude) != math.isfinite(location.longitude):
        raise ConfigError("location needs both latitude and longitude (or neither)")
    if location.timezone:
        try:
            zoneinfo.ZoneInfo(location.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"location.timezone {location.timezone!r} is not a time zone; use a "
                              "name like Europe/Zurich or America/New_York") from None
    quiet = config.alerts.quiet_hours.replace(" ", "")
    if quiet and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d", quiet):
        raise ConfigError(f"alerts.quiet_hours must look like 22:00-07:00, got {quiet!r}")


def _check_mqtt(mqtt: MqttConfig) -> None:
    if mqtt.url and not re.fullmatch(r"mqtts?://[^\s/?#:]+(:\d{1,5})?/?", mqtt.url):
        raise ConfigError(f"mqtt.url must be mqtt://host:port or mqtts://host:port, got {mqtt.url!r}")
    if mqtt.ca_file and not mqtt.url.startswith("mqtts://"):
        raise ConfigError("mqtt.ca_file checks a TLS broker's certificate: make mqtt.url mqtts://")
    if mqtt.ca_file and not Path(mqtt.ca_file).expanduser().is_file():
        raise ConfigError(f"mqtt.ca_file: no file at {mqtt.ca_file}")
    if mqtt.password and not mqtt.username:
        raise ConfigError("mqtt.password is set without mqtt.username: add the username too")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
