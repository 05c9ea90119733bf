// Claw's page: live state from /api/events, controls that call the same endpoints as any API
// caller. Every request is same-origin JSON (the guard refuses anything else).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

async function api(method, path, body) {
  const init = {method, headers: {"Accept": "application/json"}};
  if (method !== "GET" && method !== "DELETE") {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const r = await fetch(path, init);
  const data = (r.headers.get("content-type") || "").startsWith("application/json") ? await r.json() : {};
  if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : `${r.status} ${r.statusText}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const clock = (t) => new Date(t * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", hourCycle: "h23"});  // as the server writes times

// -- the house -------------------------------------------------------------------------------
async function runTool(tile, tool, args) {
  const out = $(".result", tile);
  out.textContent = tile.querySelector(".lock") ? "Asking the owner to confirm…" : "…";
  try {
    const action = await api("POST", `/api/tools/${tool}`, args);
    out.textContent = action.ok ? "" : action.result.replace(/^Error: /, "");
  } catch (e) { out.textContent = e.message; }
}

function controlArgs(control) {
  const args = JSON.parse(control.dataset.args);
  if (control.dataset.value) args[control.dataset.value] = Number(control.value);
  return args;
}

function onHouseClick(event) {
  const control = event.target.closest("button");
  const tile = control && control.closest(".tile");
  if (!tile) return;
  if (control.dataset.kind === "switch") {
    const next = JSON.parse(control.getAttribute("aria-checked") === "true" ? control.dataset.off : control.dataset.on);
    runTool(tile, next.tool, next.args);
  } else if (control.dataset.tool) {
    runTool(tile, control.dataset.tool, controlArgs(control));
  } else if (control.dataset.snapshot) {
    loadCamera($(`img[data-camera="${control.dataset.snapshot}"]`));
  }
}

function onHouseChange(event) {
  const control = event.target;
  if (control.matches("input[data-tool]") && control.value !== "") {
    runTool(control.closest(".tile"), control.dataset.tool, controlArgs(control));
  }
}

// As tile.html: which tiles are not highlighted.
const OFF_STATES = ["off", "closed", "locked", "paused", "idle", "standby"];
const NEUTRAL_DOMAINS = ["sensor", "camera"];

function controlValue(input, e) {
  const a = e.attributes;
  switch (input.dataset.attr) {
    case "brightness": return e.state === "on" ? Math.round((a.brightness || 0) / 255 * 100) : 0;
    case "volume_level": return Math.round((a.volume_level || 0) * 100);
    default: return a[input.dataset.attr] ?? "";
  }
}

function showEntity(e) {
  const tile = $(`.tile[data-entity="${CSS.escape(e.entity_id)}"]`);
  if (!tile || tile.dataset.name !== e.name || tile.dataset.area !== (e.area || "")) {
    reloadHouse();  // a new, renamed or moved entity: the server lays the house out again
    return;
  }
  $(".state", tile).textContent = e.summary;
  tile.classList.toggle("off", OFF_STATES.includes(e.state) || NEUTRAL_DOMAINS.includes(e.domain));
  tile.classList.toggle("gone", e.state === "unavailable");
  const sw = $("[data-kind=switch]", tile);
  if (sw) sw.setAttribute("aria-checked", String(e.state === "on"));
  for (const input of $$("input[data-attr]", tile)) {
    if (input !== document.activeElement) input.value = controlValue(input, e);
  }
}

// The server lays the house out; debounced, so a burst of discoveries is one fetch.
let reloading = null;
function reloadHouse(delay = 100) {
  reloading = reloading || new Promise((done) => setTimeout(async () => {
    const html = await (await fetch("/page/house", {headers: {"Accept": "text/html"}})).text();
    reloading = null;
    $("#house").outerHTML = html;
    $$("#house img[data-camera]").forEach(loadCamera);
    done();
  }, delay));
  return reloading;
}

function loadCamera(img) {
  if (img) img.src = `/api/cameras/${encodeURIComponent(img.dataset.camera)}/snapshot?at=${Date.now()}`;
}

// -- live events -----------------------------------------------------------------------------
// Resolves once the stream is open and the house and the confirmations are read again from
// then on (every (re)connect: what changed before the stream was listening is caught up).
function listen() {
  const live = $("#live");
  const events = new EventSource("/api/events");
  return new Promise((ready) => {
    events.addEventListener("open", () => {
      live.textContent = "live";
      live.classList.add("on");
      Promise.all([reloadHouse(0), loadPending()]).then(ready);
    });
    events.addEventListener("error", () => { live.textContent = "reconnecting"; live.classList.remove("on"); });
    events.addEventListener("entity", (m) => showEntity(JSON.parse(m.data)));
    events.addEventListener("feed", (m) => {
      const item = JSON.parse(m.data);
      if (item.key.startsWith("reply:")) return;  // the chat shows its own replies
      addFeed(item);
      loadPending();
    });
  });
}

function addFeed(item) {
  const feed = $("#feed");
  $$(".empty", feed).forEach((n) => n.remove());
  const entry = el("li", {class: item.kind}, el("time", {}, clock(item.time)), " ", item.text);
  if (item.photo) entry.append(el("img", {src: item.photo, alt: "Picture sent with this alert", class: "camera"}));
  feed.prepend(entry);
}

// -- confirmations ---------------------------------------------------------------------------
async function loadPending() {
  const {confirmations} = await api("GET", "/api/confirmations");
  const list = $("#pending");
  list.replaceChildren(...confirmations.map((c) => el("li", {class: "confirm"},
    el("strong", {}, c.what), el("small", {}, ` asked ${c.asked_by}, action ${c.digest}`),
    el("div", {class: "controls"},
      el("button", {type: "button", class: "approve", "aria-label": `Approve: ${c.what}`,
                    onclick: () => answer(c.id, true)}, "Approve"),
      el("button", {type: "button", class: "deny", "aria-label": `Deny: ${c.what}`,
                    onclick: () => answer(c.id, false)}, "Deny")))));
  if (!confirmations.length) list.append(el("li", {class: "empty"}, "Nothing to confirm."));
}

async function answer(id, approve) {
  try { await api("POST", `/api/confirmations/${id}`, {approve}); }
  catch (e) { alert(e.message); }
  loadPending();
}

// -- chat ------------------------------------------------------------------------------------
async function say(event) {
  event.preventDefault();
  const input = $("#text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const log = $("#messages");
  log.append(el("li", {class: "you"}, text));
  const waiting = el("li", {class: "claw pending"}, "…");
  log.append(waiting);
  waiting.scrollIntoView({block: "nearest"});
  try {
    const turn = await api("POST", "/api/page/chat", {text, room: $("#room").value || null});
    waiting.replaceWith(el("li", {class: "claw"},
      el("p", {class: "reply"}, turn.reply),
      turn.actions.length ? el("ul", {class: "actions", "aria-label": "Actions taken"},
        ...turn.actions.map((a) => el("li", {class: a.ok ? "ok" : "failed"},
          el("code", {}, a.tool), " ", a.result))) : null,
      el("small", {class: "backend"}, `answered by ${turn.backend || "nobody"}`)));
    loadModel();
  } catch (e) {
    waiting.replaceWith(el("li", {class: "claw failed"}, e.message));
  }
}

async function loadModel() {
  const {models} = await api("GET", "/api/health");
  $("#model").textContent = models.cloud && models.cloud_skipped
    ? "Claude skipped after failures (circuit open); local model answers"
    : models.cloud ? "Claude" + (models.local ? " + local model" : "")
    : models.local ? "Local model only" : "No model: simple commands only";
}

// -- discovery: rename, alias, move ----------------------------------------------------------
async function editEntity(event) {
  event.preventDefault();
  const form = event.target;
  const f = Object.fromEntries(new FormData(form));
  const body = {name: f.name.trim() || null, area: f.area.trim() || null};
  if (f.alias.trim()) body.aliases = [f.alias.trim()];
  const out = $(".result", form);
  try {
    const e = await api("PATCH", `/api/entities/${encodeURIComponent(form.dataset.entity)}`, body);
    out.textContent = `Saved: ${e.name} (${e.area || "no area"})${e.aliases.length ? ", also " + e.aliases.join(", ") : ""}`;
    form.alias.value = "";
  } catch (e) { out.textContent = e.message; }
}

// -- soul.md ---------------------------------------------------------------------------------
async function loadSoul() {
  $("#soul-text").value = (await api("GET", "/api/soul")).text;
  const {versions} = await api("GET", "/api/soul/versions");
  $("#soul-versions").replaceChildren(...versions.map((v) => el("li", {},
    `Version ${v.version} (${v.source}, ${clock(v.created)}, ${v.characters} characters)`,
    v.current ? el("strong", {}, " current") : null, " ",
    el("button", {type: "button", onclick: () => showDiff(v.version)}, `Diff version ${v.version}`), " ",
    v.current ? null : el("button", {type: "button", onclick: () => restoreSoul(v.version)},
                          `Restore version ${v.version}`))));
}

async function saveSoul(event) {
  event.preventDefault();
  try {
    await api("PUT", "/api/soul", {text: $("#soul-text").value});
    $("#soul-result").textContent = "Saved; the next reply follows it.";
    loadSoul();
  } catch (e) { $("#soul-result").textContent = e.message; }
}

async function showDiff(version) {
  const {diff} = await api("GET", `/api/soul/versions/${version}`);
  const pre = $("#soul-diff");
  pre.hidden = false;
  pre.replaceChildren(...(diff || "(the same as the current soul.md)").split("\n").map((line) =>
    el("span", {class: line[0] === "+" ? "add" : line[0] === "-" ? "del" : ""}, line + "\n")));
}

async function restoreSoul(version) {
  await api("POST", `/api/soul/versions/${version}/restore`, {});
  $("#soul-result").textContent = `Version ${version} is live again.`;
  $("#soul-diff").hidden = true;
  loadSoul();
}

// -- memory and pairing ----------------------------------------------------------------------
async function loadFacts(event) {
  if (event) event.preventDefault();
  const q = $("#memory-q").value.trim();
  const {facts} = await api("GET", "/api/memory" + (q ? `?q=${encodeURIComponent(q)}` : ""));
  $("#facts").replaceChildren(...facts.map((f) => el("li", {}, f.text, " ",
    el("button", {type: "button", "aria-label": `Forget: ${f.text}`, onclick: async () => {
      await api("DELETE", `/api/memory/${f.id}`);
      loadFacts();
    }}, "Forget"))));
  if (!facts.length) $("#facts").append(el("li", {class: "empty"}, q ? "No fact matches." : "Nothing remembered yet."));
}

async function newPairingCode() {
  try {
    const {code, expires} = await api("POST", "/api/pair", {});
    $("#pair-code").textContent = `Code ${code}, works once until ${clock(expires)}. Send it to Claw on Telegram.`;
  } catch (e) { $("#pair-code").textContent = e.message; }
}

async function logout() {
  await api("POST", "/api/logout", {});
  location.href = "/";
}

document.addEventListener("DOMContentLoaded", () => {
  const main = $("main");
  main.addEventListener("click", (e) => { if (e.target.closest("#house")) onHouseClick(e); });
  main.addEventListener("change", (e) => { if (e.target.closest("#house")) onHouseChange(e); });
  $$("form.entity-edit").forEach((f) => f.addEventListener("submit", editEntity));
  $("#say").addEventListener("submit", say);
  $("#soul-form").addEventListener("submit", saveSoul);
  $("#memory-form").addEventListener("submit", loadFacts);
  $("#pair").addEventListener("click", newPairingCode);
  $("#logout").addEventListener("click", logout);
  const room = $("#room");
  room.value = localStorage.getItem("claw-room") || "";
  room.addEventListener("change", () => localStorage.setItem("claw-room", room.value));
  Promise.all([listen(), loadSoul(), loadFacts()])
    .then(() => { document.body.dataset.ready = "1"; });
});
