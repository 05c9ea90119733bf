"""Configuration: `CLAW_HOME/claw.toml` plus environment overrides.

Every problem becomes one ConfigError line that names the key and says what is wrong; the CLI
prints it and exits with status 2.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import home_assistant_intents


class ConfigError(Exception):
    """Invalid configuration; the message is one line a person can act on."""


@dataclass
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str = ""  # required when host is not loopback


@dataclass
class AnthropicConfig:
    api_key: str = ""
    base_url: str = ""
    model: str = "claude-sonnet-4-6"
    max_tokens: int = 1024
    timeout: float = 30.0


@dataclass
class LocalModelConfig:
    model_path: str = ""  # empty: no local model
    n_gpu_layers: int = -1  # -1: all layers when the build has a GPU backend
    n_ctx: int = 4096
    threads: int = 0  # 0: llama.cpp's default
    chat_format: str = ""  # empty: from the GGUF's template


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
class DiscoveryConfig:
    enabled: bool = True
    interfaces: list[str] = field(default_factory=lambda: ["all"])
    ssdp_interval: float = 30.0


@dataclass
class PrivacyConfig:
    # Camera pictures are looked at by the local model only, never sent to the cloud.
    images_stay_local: bool = False


@dataclass
class AlertsConfig:
    quiet_hours: str = ""  # "22:00-07:00": alerts arrive silently then (urgent ones still ring)
    camera_interval: float = 5.0  # seconds between snapshots for camera-change alerts
    heartbeat_minutes: float = 60.0  # 0 turns the heartbeat off
    heartbeat_daily_tokens: int = 30_000


@dataclass
class AgentConfig:
    language: str = "en"  # for the fast path's sentence templates
    max_tool_iterations: int = 6
    device_timeout: float = 3.0
    confirm_timeout: float = 60.0  # seconds the owner has to confirm a security action


@dataclass
class Config:
    home: Path
    http: HttpConfig = field(default_factory=HttpConfig)
    anthropic: AnthropicConfig = field(default_factory=AnthropicConfig)
    local: LocalModelConfig = field(default_factory=LocalModelConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    home_assistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

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
    "agent": AgentConfig,
    "privacy": PrivacyConfig,
    "alerts": AlertsConfig,
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
    "CLAW_DISCOVERY": ("discovery", "enabled"),
    "CLAW_DISCOVERY_INTERFACES": ("discovery", "interfaces"),
    "HOME_ASSISTANT_TOKEN": ("home_assistant", "token"),
}


def default_home() -> Path:
    return Path(os.environ.get("CLAW_HOME") or Path.home() / ".claw").expanduser()


def load(home: Path | None = None, env: dict[str, str] | None = None) -> Config:
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
    return config


def _build(cls: type, section: str, values: dict[str, Any], path: Path) -> Any:
    known = {f.name: f for f in fields(cls)}
    obj = cls()
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key {section}.{key} (known: {', '.join(known)})")
        setattr(obj, key, _coerce(f"{section}.{key}", getattr(obj, key), value))
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
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if kind is list:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ConfigError(f"{name} must be a list of strings, got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value


def is_loopback(host: str) -> bool:
    return host == "localhost" or host == "::1" or host.startswith("127.")


def _check(config: Config) -> None:
    if not 1 <= config.http.port <= 65535:
        raise ConfigError(f"http.port must be from 1 to 65535, got {config.http.port}")
    if not is_loopback(config.http.host) and not config.http.token:
        raise ConfigError(
            f"http.host is {config.http.host}, which is reachable from other machines: set "
            "http.token in claw.toml (or CLAW_HTTP_TOKEN) so the API requires it"
        )
    languages = home_assistant_intents.get_languages()
    if config.agent.language not in languages:
        raise ConfigError(f"agent.language {config.agent.language!r} has no command sentences; "
                          f"use one of {', '.join(sorted(languages))}")
    if config.agent.max_tool_iterations < 1:
        raise ConfigError("agent.max_tool_iterations must be at least 1")
    if config.agent.device_timeout <= 0:
        raise ConfigError("agent.device_timeout must be a positive number of seconds")
    if config.local.model_path and not Path(config.local.model_path).expanduser().is_file():
        raise ConfigError(f"local.model_path: no file at {config.local.model_path}")
    quiet = config.alerts.quiet_hours.replace(" ", "")
    if quiet and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d", quiet):
        raise ConfigError(f"alerts.quiet_hours must look like 22:00-07:00, got {quiet!r}")
    if config.agent.confirm_timeout <= 0:
        raise ConfigError("agent.confirm_timeout must be a positive number of seconds")
