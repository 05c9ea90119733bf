"""`claw doctor`: what the README says it checks, one plain line each (or JSON for machines):
the config, the data dir, the models (the Anthropic endpoint with the key, the local model),
Telegram's getMe, Home Assistant at the configured URL, and the running service with the
owner's token and what it has found."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import httpx

from claw.config import Config

TIMEOUT = 5.0
Status = Literal["ok", "fix", "info"]  # info: optional, or not running: nothing to fix
MARK = {"ok": "OK  ", "fix": "FIX ", "info": "--  "}


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    todo: str = ""

    def line(self) -> str:
        return f"{MARK[self.status]} {self.detail}" + (f" -> {self.todo}" if self.todo else "")


def checks(config: Config, client: httpx.Client) -> list[Check]:
    """Every check, in order; `client` talks to the service with the owner's token."""
    return [_config(config), _data_dir(config.home), *_models(config), _telegram(config),
            _home_assistant(config), _service(config, client)]


def report(found: list[Check], as_json: bool) -> int:
    ok = all(c.status != "fix" for c in found)
    if as_json:
        print(json.dumps({"ok": ok, "checks": [asdict(c) for c in found]}, indent=2))
    else:
        for c in found:
            print(c.line())
    return 0 if ok else 1


def _config(config: Config) -> Check:
    if config.config_path.exists():
        return Check("config", "ok", f"config {config.config_path} is valid")
    return Check("config", "ok", f"config: defaults (no {config.config_path})")


def _data_dir(home: Path) -> Check:
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        return Check("data_dir", "fix", f"data dir {home} is not writable ({e.strerror})",
                     "set CLAW_HOME to a writable folder")
    return Check("data_dir", "ok", f"data dir {home} is writable")


def _models(config: Config) -> list[Check]:
    found = [_anthropic(config)] if config.anthropic.api_key else []
    if config.local.model_path:
        found.append(_local(config.local.model_path))
    if not found:
        found.append(Check("models", "fix", "no model: only common commands will work",
                           "export ANTHROPIC_API_KEY=..., or set [local] model_path in claw.toml"))
    return found


def _anthropic(config: Config) -> Check:
    url = (config.anthropic.base_url or "https://api.anthropic.com").rstrip("/")
    headers = {"x-api-key": config.anthropic.api_key, "anthropic-version": "2023-06-01"}
    try:
        r = httpx.get(f"{url}/v1/models", headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as e:
        return Check("anthropic", "fix", f"Claude endpoint {url} is unreachable ({e})",
                     "check the network, or ANTHROPIC_BASE_URL")
    if r.status_code in (401, 403):
        return Check("anthropic", "fix", f"Claude endpoint {url} rejected the API key (HTTP {r.status_code})",
                     "check ANTHROPIC_API_KEY")
    return Check("anthropic", "ok", f"Claude endpoint {url} answers (HTTP {r.status_code}); "
                                    f"model {config.anthropic.model}")


def _local(model_path: str) -> Check:
    if not Path(model_path).is_file():
        return Check("local_model", "fix", f"local model {model_path} is not a file",
                     "fix [local] model_path in claw.toml")
    try:
        import llama_cpp  # noqa: F401  (several hundred ms: only when a model is configured)
    except ImportError:
        return Check("local_model", "fix", f"local model {model_path}, but llama-cpp-python is not installed",
                     "pip install 'claw[local]'")
    return Check("local_model", "ok", f"local model {model_path}")


def _telegram(config: Config) -> Check:
    if not config.telegram.token:
        return Check("telegram", "info", "Telegram not configured (optional)",
                     "export TELEGRAM_BOT_TOKEN=... from @BotFather to chat from your phone")
    root = (config.telegram.base_url or "https://api.telegram.org").rstrip("/")
    try:
        r = httpx.post(f"{root}/bot{config.telegram.token}/getMe", timeout=TIMEOUT)
    except httpx.HTTPError as e:
        return Check("telegram", "fix", f"Telegram's Bot API at {root} is unreachable ({type(e).__name__})",
                     "check the network, or TELEGRAM_BASE_URL")
    if r.status_code != 200 or not r.json().get("ok"):
        return Check("telegram", "fix", f"Telegram rejected the bot token (HTTP {r.status_code})",
                     "check TELEGRAM_BOT_TOKEN (from @BotFather)")
    return Check("telegram", "ok", f"Telegram bot @{r.json()['result'].get('username', '?')} answers")


def _home_assistant(config: Config) -> Check:
    ha = config.home_assistant
    if not ha.url:
        return Check("home_assistant", "info", "Home Assistant: no url in claw.toml (optional)",
                     "one found on the LAN is offered to you in chat")
    headers = {"Authorization": f"Bearer {ha.token}"} if ha.token else {}
    try:
        r = httpx.get(f"{ha.url.rstrip('/')}/api/", headers=headers, timeout=TIMEOUT,
                      verify=ha.ca_file or True)
    except httpx.HTTPError as e:
        return Check("home_assistant", "fix", f"Home Assistant at {ha.url} is unreachable ({e})",
                     "check [home_assistant] url (and ca_file for a certificate of your own)")
    if not ha.token:
        return Check("home_assistant", "info", f"Home Assistant at {ha.url} answers; no token yet",
                     "make a long-lived token in its profile page; send it in chat or set it in claw.toml")
    if r.status_code == 401:
        return Check("home_assistant", "fix", f"Home Assistant at {ha.url} rejected the token",
                     "make a new long-lived token in its profile page")
    return Check("home_assistant", "ok", f"Home Assistant at {ha.url} answers (HTTP {r.status_code})")


def _service(config: Config, client: httpx.Client) -> Check:
    where = f"{config.http.host}:{config.http.port}"
    try:
        r = client.get("/api/devices", timeout=TIMEOUT)
    except httpx.HTTPError:
        return Check("service", "info", f"service not running at {where}", "start it with `claw run`")
    if r.status_code == 401:
        return Check("service", "fix", f"service at {where} refused the owner's token",
                     "is it using another data directory (--data-dir, CLAW_HOME) or [http] token?")
    if r.status_code != 200:
        return Check("service", "fix", f"service at {where} answered HTTP {r.status_code}",
                     "see its log")
    found = r.json()
    return Check("service", "ok", f"service at {where} answers with the owner's token; it has found "
                                  f"{_count(len(found['devices']), 'device')} with "
                                  f"{_count(len(found['entities']), 'entity', 'entities')}")


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
