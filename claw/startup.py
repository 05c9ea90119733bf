"""What `claw run` and `claw demo` say when they start: where the API and the page are, which
models answer, whether Telegram is on, and where discovery looks. Devices found are told one
line per batch as they come (House's announcements)."""
from __future__ import annotations

import socket
from pathlib import Path

from claw.config import Config
from devices.discovery import ipv4_addresses


def summary(config: Config, login_link: str, token_file: Path) -> list[str]:
    host = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host
    base = f"http://{f'[{host}]' if ':' in host else host}:{config.http.port}"
    reach = "" if host == config.http.host else f" (listening on {config.http.host}: the whole LAN)"
    return [
        f"API:       {base}{reach}; owner token in {token_file}",
        f"Page:      {base}/ - log in from a browser on this machine (once, within 10 minutes): "
        f"{login_link}",
        f"Models:    {models(config)}",
        f"Telegram:  {telegram(config)}",
        f"Discovery: {discovery(config)}",
    ]


def models(config: Config) -> str:
    found = []
    if config.anthropic.api_key:
        found.append(f"Claude ({config.anthropic.model})")
    if config.local.model_path:
        found.append(f"local model {Path(config.local.model_path).name}")
    if not found:
        return ("none: common commands work without a model; for anything else export "
                "ANTHROPIC_API_KEY, or set [local] model_path in claw.toml")
    return " and ".join(found) + (", Claude first" if len(found) == 2 else "")


def telegram(config: Config) -> str:
    if config.telegram.token:
        return "on (`claw pair` prints a code to send to your bot)"
    return "off (export TELEGRAM_BOT_TOKEN=... from @BotFather to chat from your phone)"


def discovery(config: Config) -> str:
    if not config.discovery.enabled:
        return "off"
    interfaces = config.discovery.interfaces
    if interfaces in ("all", ["all"]):
        addresses = ", ".join(ipv4_addresses("all")) or "none has an IPv4 address"
        return (f"mDNS and SSDP on every interface ({addresses}); [discovery] interfaces in "
                "claw.toml narrows it")
    return f"mDNS and SSDP on {', '.join(interfaces)}"


LOG_FILE = "claw.log"  # in the data directory, for `claw demo` (whose terminal is a chat)


class StartError(Exception):
    """Claw cannot start here; the message says why and what to do."""


def api_socket(config: Config) -> socket.socket:
    """The API's listening address, bound before anything else starts, so that a clash is one
    clear line (and a demo house never comes up beside a Claw that cannot serve it)."""
    host, port = config.http.host, config.http.port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, port))
        sock.listen()  # holds the port now: a second Claw's bind fails here, not later
    except OSError as e:
        sock.close()
        raise StartError(f"can't serve the API on {host}:{port} ({e.strerror}): is another Claw "
                         "running? Stop it, or set CLAW_HTTP_PORT (or [http] port in claw.toml) "
                         "to another port") from None
    return sock
