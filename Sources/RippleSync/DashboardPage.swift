/// The dashboard's single page (markup, style and script), embedded in the binary so that a
/// node needs no files beside it and no CDN: plain HTML, CSS and JavaScript, no build step.
/// It holds no data: everything it shows comes from `/api/dashboard/` with the admin key.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ripple dashboard</title>
<style>
:root { --bg:#0f1419; --panel:#171d24; --line:#27303b; --text:#d8dee6; --dim:#8793a1; --accent:#4fb3ff; --ok:#3ecf8e; --bad:#ff6b6b; --warn:#f5b94b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--text); }
header { display:flex; align-items:center; gap:24px; padding:10px 20px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { font-size:16px; margin:0; letter-spacing:.04em; }
header h1 span { color:var(--accent); }
nav button { background:none; border:0; color:var(--dim); font:inherit; padding:6px 10px; cursor:pointer; border-radius:6px; }
nav button.active { color:var(--text); background:var(--line); }
header .node { margin-left:auto; color:var(--dim); font-size:12px; }
main { padding:16px 20px; }
section { display:none; } section.active { display:block; }
.cols { display:grid; grid-template-columns:240px 1fr; gap:16px; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px; margin-bottom:12px; }
.panel h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--dim); margin:0 0 8px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--dim); font-weight:500; border-bottom:1px solid var(--line); padding:4px 6px; }
td { border-bottom:1px solid var(--line); padding:4px 6px; vertical-align:top; overflow-wrap:anywhere; }
tr.selected { background:#1e2a36; }
tr.clickable:hover { background:#1e2630; cursor:pointer; }
code, pre, textarea, .mono { font-family:ui-monospace, "DejaVu Sans Mono", monospace; font-size:12px; }
pre { white-space:pre-wrap; word-break:break-all; margin:0; }
textarea, input, select { width:100%; background:#0b0f14; color:var(--text); border:1px solid var(--line); border-radius:6px; padding:6px 8px; font:inherit; }
textarea { min-height:140px; font-family:ui-monospace, monospace; font-size:12px; }
button.action { background:var(--accent); color:#04121f; border:0; border-radius:6px; padding:6px 12px; font-weight:600; cursor:pointer; }
button.secondary { background:var(--line); color:var(--text); border:0; border-radius:6px; padding:6px 12px; cursor:pointer; }
button.danger { background:var(--bad); color:#1a0505; border:0; border-radius:6px; padding:6px 12px; cursor:pointer; }
.panel.scroll { max-height:calc(100vh - 110px); overflow:auto; }
.row { display:flex; gap:8px; align-items:center; margin:6px 0; } .row > * { flex:1; } .row > button { flex:0 0 auto; }
.tables button { display:flex; justify-content:space-between; width:100%; background:none; border:0; color:var(--text); padding:5px 8px; border-radius:6px; cursor:pointer; font:inherit; }
.tables button.active, .tables button:hover { background:var(--line); }
.tables .count { color:var(--dim); } .tables .system { color:var(--dim); font-style:italic; }
.error { color:var(--bad); white-space:pre-wrap; } .ok { color:var(--ok); } .dim { color:var(--dim); }
.badge { display:inline-block; padding:0 6px; border-radius:8px; font-size:11px; background:var(--line); }
.badge.query { color:var(--accent); } .badge.mutation { color:var(--warn); } .badge.action { color:#c58af9; }
.badge.success { color:var(--ok); } .badge.failure { color:var(--bad); }
#signin { max-width:380px; margin:12vh auto; }
.nodes { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:12px; }
.node-card.down { border-color:var(--bad); }
.node-card dl { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; margin:6px 0; font-size:13px; }
.node-card dt { color:var(--dim); } .node-card dd { margin:0; font-family:ui-monospace, monospace; overflow-wrap:anywhere; }
canvas.spark { width:100%; height:36px; background:#0b0f14; border-radius:4px; }
</style>
</head>
<body>
<div id="signin" class="panel" hidden>
  <h2>Sign in to Ripple</h2>
  <p class="dim">Paste this deployment's admin key. It stays in this tab's session storage.</p>
  <input id="key" type="password" placeholder="admin key" autocomplete="off">
  <div class="row"><button id="signin-button" class="action">Sign in</button></div>
  <div id="signin-error" class="error"></div>
</div>
<div id="app" hidden>
<header>
  <h1><span>◆</span> Ripple</h1>
  <nav>
    <button data-tab="data" class="active">Data</button><button data-tab="functions">Functions</button><button data-tab="logs">Logs</button><button data-tab="scheduling">Scheduling</button><button data-tab="cluster">Cluster</button>
  </nav>
  <div class="node" id="node-label"></div>
  <button class="secondary" id="signout">Sign out</button>
</header>
<main>
<section id="tab-data" class="active">
  <div class="cols">
    <div class="panel"><h2>Tables</h2><div class="tables" id="tables"></div></div>
    <div>
      <div class="panel">
        <h2 id="table-title">Select a table</h2>
        <div class="row">
          <input id="filter-field" placeholder="filter field (e.g. author)">
          <input id="filter-value" placeholder="value (JSON or text)">
          <button class="secondary" id="filter-apply">Filter</button>
          <button class="action" id="insert-open">Insert</button>
        </div>
        <div class="dim" id="index-used"></div>
        <table><thead><tr><th>_id</th><th>_creationTime</th><th>document</th></tr></thead><tbody id="documents"></tbody></table>
        <div class="row"><span class="dim" id="page-info"></span><button class="secondary" id="first-page">First page</button><button class="secondary" id="next-page">Next page</button></div>
      </div>
      <div class="panel" id="editor" hidden>
        <h2 id="editor-title">Document</h2>
        <textarea id="editor-text" spellcheck="false"></textarea>
        <div class="row"><button class="action" id="editor-save">Save</button><button class="danger" id="editor-delete">Delete</button><button class="secondary" id="editor-close">Close</button></div>
        <div id="editor-error" class="error"></div><div id="editor-ok" class="ok"></div>
      </div>
      <div class="panel"><h2>Schema and indexes</h2><div id="schema" class="mono"></div></div>
    </div>
  </div>
</section>
<section id="tab-functions">
  <div class="cols" style="grid-template-columns:1fr 1fr">
    <div class="panel scroll"><h2>Functions</h2>
      <table><thead><tr><th>path</th><th>kind</th><th>visibility</th><th>arguments</th></tr></thead><tbody id="functions"></tbody></table>
    </div>
    <div>
      <div class="panel"><h2 id="run-title">Run a function</h2>
        <label class="dim">Arguments (JSON)</label><textarea id="run-args" spellcheck="false">{}</textarea>
        <label class="dim">Act as user (optional JSON identity, e.g. {"subject":"u1","issuer":"dashboard"})</label><input id="run-as" spellcheck="false">
        <div class="row"><button class="action" id="run">Run</button><button class="secondary" id="subscribe">Subscribe live</button></div>
        <h2>Result</h2><pre id="run-result" class="mono"></pre>
      </div>
      <div class="panel"><h2>Live subscription <span id="live-status" class="dim"></span></h2><pre id="live-result" class="mono"></pre></div>
    </div>
  </div>
</section>
<section id="tab-logs">
  <div class="panel"><h2>Function executions on this node</h2>
    <div class="row"><input id="log-filter" placeholder="filter by path or error"><select id="log-outcome"><option value="">all outcomes</option><option value="success">success</option><option value="failure">failure</option></select>
    <label class="dim" style="flex:0 0 auto"><input type="checkbox" id="log-hide-system" checked style="width:auto"> hide _system</label></div>
    <table><thead><tr><th>time</th><th>path</th><th>kind</th><th>duration</th><th>outcome</th><th>error</th></tr></thead><tbody id="logs"></tbody></table>
  </div>
</section>
<section id="tab-scheduling">
  <div class="panel"><h2>Scheduler lease</h2><div id="lease" class="mono"></div></div>
  <div class="panel"><h2>Scheduled functions</h2><div class="row"><select id="job-state"></select></div>
    <table><thead><tr><th>_id</th><th>function</th><th>scheduled</th><th>state</th><th></th></tr></thead><tbody id="jobs"></tbody></table></div>
  <div class="panel"><h2>Crons</h2><table><thead><tr><th>name</th><th>function</th><th>schedule</th><th>next run</th><th>last run</th></tr></thead><tbody id="crons"></tbody></table></div>
</section>
<section id="tab-cluster">
  <div class="panel"><h2>Nodes</h2>
    <div class="row"><input id="peers" placeholder="other nodes' URLs, comma-separated (e.g. http://127.0.0.1:3211)"><button class="secondary" id="peers-save">Watch</button></div>
    <div class="dim">This node's card is fetched through this page's origin; other nodes directly (each with the admin key). On a writer, every replica's applied ts and lag come from the replication link.</div>
  </div>
  <div class="nodes" id="nodes"></div>
</section>
</main>
</div>
<script>
"use strict";
const KEY = "ripple.adminKey";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) { if (k === "class") node.className = v; else if (k.startsWith("on")) node[k] = v; else node.setAttribute(k, v); }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
};
const fmtTime = (ms) => ms ? new Date(ms).toLocaleTimeString() + "." + String(Math.floor(ms % 1000)).padStart(3, "0") : "";
const fmtDate = (ms) => ms ? new Date(ms).toLocaleString() : "—";
const pretty = (v) => JSON.stringify(v, null, 2);
// Convex JSON's {"$integer": base64 little-endian} as a plain number, for reading (not editing).
const plain = (v) => {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    if (typeof v.$integer === "string") {
      const bytes = Uint8Array.from(atob(v.$integer), (c) => c.charCodeAt(0));
      return Number(new DataView(bytes.buffer).getBigInt64(0, true));
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
};
const schedule = (s) => {
  const p = plain(s), two = (n) => String(n).padStart(2, "0");
  if (p.type === "interval") return `every ${p.seconds} s`;
  if (p.type === "daily") return `daily at ${two(p.hourUTC)}:${two(p.minuteUTC)} UTC`;
  if (p.type === "cron") return `cron ${p.cronExpr}`;
  return JSON.stringify(p);
};

class Unauthorized extends Error {}
async function api(path, body, base = "") {
  const response = await fetch(base + "/api/dashboard/" + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Authorization": "Convex " + sessionStorage.getItem(KEY), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) { if (!base) signOut("The admin key was refused."); throw new Unauthorized("admin key refused"); }
  const json = await response.json();
  if (!response.ok) throw new Error(json.message || response.statusText);
  return json;
}

// ---- sign in ----
function signOut(message) {
  sessionStorage.removeItem(KEY);
  stopLoops();
  $("app").hidden = true; $("signin").hidden = false; $("signin-error").textContent = message || "";
}
async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try { await api("node"); } catch (e) { if (!(e instanceof Unauthorized)) signOut(String(e)); return; }
  $("signin").hidden = true; $("app").hidden = false;
  start();
}
$("signin-button").onclick = () => signIn($("key").value.trim());
$("key").onkeydown = (e) => { if (e.key === "Enter") signIn($("key").value.trim()); };
$("signout").onclick = () => signOut("");

// ---- tabs ----
let activeTab = "data";
for (const button of document.querySelectorAll("nav button")) {
  button.onclick = () => showTab(button.dataset.tab);
}
function showTab(tab) {
  activeTab = tab;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const s of document.querySelectorAll("section")) s.classList.toggle("active", s.id === "tab-" + tab);
  if (tab === "data") loadTables();
  if (tab === "functions") loadFunctions();
  if (tab === "scheduling") loadScheduling();
}

// ---- data ----
let tables = [], currentTable = null, cursors = [], nextCursor = null, editing = null;
async function loadTables() {
  tables = await api("tables");
  const list = $("tables"); list.replaceChildren();
  for (const t of tables) {
    list.append(el("button", { id: "table-" + t.name, class: (t.name === currentTable ? "active " : "") + (t.system ? "system" : ""), onclick: () => openTable(t.name) },
      el("span", {}, t.name), el("span", { class: "count" }, String(t.documents))));
  }
  if (!currentTable && tables.length) openTable(tables.find((t) => !t.system)?.name || tables[0].name);
  else if (currentTable) renderSchema();
}
function renderSchema() {
  const t = tables.find((t) => t.name === currentTable); if (!t) return;
  $("schema").replaceChildren(
    el("div", {}, "validator: ", t.validator || "none (any document)"),
    ...t.indexes.map((i) => el("div", {}, `index ${i.name} [${i.fields.join(", ")}] ${i.state}`)));
}
async function openTable(name) {
  currentTable = name; cursors = []; nextCursor = null;
  for (const b of document.querySelectorAll(".tables button")) b.classList.toggle("active", b.id === "table-" + name);
  $("table-title").textContent = name; renderSchema(); await loadDocuments(null);
}
async function loadDocuments(cursor) {
  const params = new URLSearchParams({ table: currentTable, pageSize: "25" });
  if (cursor) params.set("cursor", cursor);
  const field = $("filter-field").value.trim();
  if (field) { params.set("field", field); params.set("value", $("filter-value").value); }
  const body = $("documents");
  try {
    const result = await api("documents?" + params);
    nextCursor = result.isDone ? null : result.continueCursor;
    $("index-used").textContent = `index: ${result.index}` + (result.filteredScan ? " (no index starts with this field: scanning newest first, bounded)" : "");
    body.replaceChildren(...result.page.map((doc) => el("tr", { class: "clickable", "data-id": doc._id, onclick: () => openEditor(doc) },
      el("td", { class: "mono" }, doc._id), el("td", {}, fmtDate(doc._creationTime)),
      el("td", {}, el("pre", {}, JSON.stringify(Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith("_")))))))));
    $("page-info").textContent = `page ${cursors.length + 1}, ${result.page.length} documents, newest first`;
  } catch (e) { if (!(e instanceof Unauthorized)) { body.replaceChildren(); $("index-used").textContent = String(e.message); } }
}
$("filter-apply").onclick = () => { cursors = []; loadDocuments(null); };
$("next-page").onclick = () => { if (nextCursor) { cursors.push(nextCursor); loadDocuments(nextCursor); } };
$("first-page").onclick = () => { cursors = []; loadDocuments(null); };
function openEditor(doc) {
  editing = doc ? doc._id : null;
  $("editor").hidden = false; $("editor-error").textContent = ""; $("editor-ok").textContent = "";
  $("editor-title").textContent = doc ? `Edit ${doc._id}` : `Insert into ${currentTable}`;
  $("editor-delete").hidden = !doc;
  const fields = doc ? Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith("_"))) : {};
  $("editor-text").value = pretty(fields);
}
$("insert-open").onclick = () => openEditor(null);
$("editor-close").onclick = () => { $("editor").hidden = true; };
async function write(path, body, done) {
  $("editor-error").textContent = ""; $("editor-ok").textContent = "";
  try {
    const result = await api(path, body);
    if (result.status === "error") { $("editor-error").textContent = result.errorMessage; return; }
    $("editor-ok").textContent = done(result);
    await loadTables(); await loadDocuments(cursors[cursors.length - 1] || null);
  } catch (e) { if (!(e instanceof Unauthorized)) $("editor-error").textContent = String(e.message); }
}
$("editor-save").onclick = () => {
  let fields;
  try { fields = JSON.parse($("editor-text").value); } catch (e) { $("editor-error").textContent = "Not JSON: " + e.message; return; }
  if (editing) write("documents/replace", { id: editing, fields }, (r) => `Saved at ts ${r.ts}`);
  else write("documents/insert", { table: currentTable, fields }, (r) => { editing = r.value; $("editor-delete").hidden = false; return `Inserted ${r.value}`; });
};
$("editor-delete").onclick = () => {
  if (editing && confirm(`Delete ${editing}?`)) write("documents/delete", { id: editing }, () => { $("editor").hidden = true; return "Deleted"; });
};

// ---- functions ----
let functions = [], selectedFunction = null;
async function loadFunctions() {
  functions = await api("functions");
  $("functions").replaceChildren(...functions.map((f) => el("tr", { class: "clickable", "data-path": f.path, onclick: () => selectFunction(f) },
    el("td", { class: "mono" }, f.path), el("td", {}, el("span", { class: "badge " + f.kind }, f.kind)), el("td", {}, f.visibility), el("td", { class: "mono" }, f.args))));
}
function selectFunction(f) {
  selectedFunction = f;
  for (const row of document.querySelectorAll("#functions tr")) row.classList.toggle("selected", row.dataset.path === f.path);
  $("run-title").textContent = `Run ${f.path} (${f.kind})`;
  $("subscribe").disabled = f.kind !== "query";
}
$("run").onclick = async () => {
  if (!selectedFunction) return;
  let args, actingAs;
  try { args = JSON.parse($("run-args").value || "{}"); actingAs = $("run-as").value.trim() ? JSON.parse($("run-as").value) : undefined; }
  catch (e) { $("run-result").textContent = "Not JSON: " + e.message; return; }
  $("run-result").textContent = "running…";
  try {
    const r = await api("run", { path: selectedFunction.path, args, actingAs });
    $("run-result").className = "mono " + (r.status === "success" ? "ok" : "error");
    $("run-result").textContent = r.status === "success" ? pretty(r.value) : "Error: " + r.errorMessage;
  } catch (e) { if (!(e instanceof Unauthorized)) $("run-result").textContent = String(e.message); }
};

// A live query through the node's own sync protocol: Connect, Authenticate as admin, add the query.
let socket = null;
$("subscribe").onclick = () => {
  if (!selectedFunction || selectedFunction.kind !== "query") return;
  let args;
  try { args = JSON.parse($("run-args").value || "{}"); } catch (e) { $("live-result").textContent = "Not JSON: " + e.message; return; }
  if (socket) socket.close();
  const url = location.origin.replace(/^http/, "ws") + "/api/sync";
  const ws = new WebSocket(url); socket = ws;
  let updates = 0;
  const path = selectedFunction.path;
  $("live-status").textContent = `connecting to ${path}…`;
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "Connect", sessionId: crypto.randomUUID(), connectionCount: 0, lastCloseReason: "InitialConnect", clientTs: Date.now() }));
    ws.send(JSON.stringify({ type: "Authenticate", baseVersion: 0, tokenType: "Admin", value: sessionStorage.getItem(KEY) }));
    ws.send(JSON.stringify({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Add", queryId: 0, udfPath: path, args: [args] }] }));
  };
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "Ping") return;
    if (message.type === "Transition") {
      for (const m of message.modifications) {
        if (m.type === "QueryUpdated") { updates += 1; $("live-result").className = "mono"; $("live-result").textContent = pretty(m.value); }
        if (m.type === "QueryFailed") { updates += 1; $("live-result").className = "mono error"; $("live-result").textContent = m.errorMessage; }
      }
      $("live-status").textContent = `${path}: ${updates} update${updates === 1 ? "" : "s"}, last at ${new Date().toLocaleTimeString()}`;
    } else if (message.type === "AuthError" || message.type === "FatalError") {
      $("live-status").textContent = `${message.type}: ${message.error}`;
    }
  };
  ws.onclose = () => { if (socket === ws) $("live-status").textContent += " (closed)"; };
};

// ---- logs: polled with a cursor; the page keeps the newest 500 rows ----
let logCursor = "0", logEntries = [];
async function pollLogs() {
  const result = await api("logs?after=" + logCursor);
  logCursor = result.cursor;
  if (result.entries.length) { logEntries = logEntries.concat(result.entries).slice(-500); renderLogs(); }
}
function renderLogs() {
  const text = $("log-filter").value.toLowerCase(), outcome = $("log-outcome").value, hideSystem = $("log-hide-system").checked;
  const shown = logEntries.filter((e) => (!hideSystem || !e.path.startsWith("_system/")) && (!outcome || e.outcome === outcome)
    && (!text || e.path.toLowerCase().includes(text) || (e.error || "").toLowerCase().includes(text))).reverse();
  $("logs").replaceChildren(...shown.map((e) => el("tr", { "data-path": e.path },
    el("td", {}, fmtTime(e.finishedAt)), el("td", { class: "mono" }, e.path), el("td", {}, el("span", { class: "badge " + e.kind }, e.kind)),
    el("td", {}, e.durationMs.toFixed(2) + " ms"), el("td", {}, el("span", { class: "badge " + e.outcome }, e.outcome)), el("td", { class: "error" }, e.error || ""))));
}
for (const id of ["log-filter", "log-outcome", "log-hide-system"]) $(id).oninput = renderLogs;

// ---- scheduling ----
const jobStates = ["pending", "inProgress", "success", "failed", "canceled"];
$("job-state").replaceChildren(...jobStates.map((s) => el("option", { value: s }, s)));
$("job-state").onchange = () => loadScheduling();
async function loadScheduling() {
  const s = await api("scheduling");
  const state = $("job-state").value;
  $("lease").textContent = s.lease ? `held by ${s.lease.holder} until ${fmtDate(s.lease.expiresAt)}` : "no scheduler holds the lease";
  $("jobs").replaceChildren(...(s.jobs[state] || []).map((job) => el("tr", {},
    el("td", { class: "mono" }, job._id), el("td", { class: "mono" }, job.name), el("td", {}, fmtDate(job.scheduledTime)),
    el("td", {}, job.state.kind + (job.state.error ? ": " + job.state.error : "")),
    el("td", {}, job.state.kind === "pending" ? el("button", { class: "danger", onclick: async () => { await api("jobs/cancel", { id: job._id }); loadScheduling(); } }, "Cancel") : ""))));
  $("crons").replaceChildren(...s.crons.map((c) => el("tr", {},
    el("td", {}, c.name), el("td", { class: "mono" }, c.functionPath), el("td", { class: "mono" }, schedule(c.schedule)),
    el("td", {}, fmtDate(c.nextRun)), el("td", {}, fmtDate(c.lastRun)))));
}

// ---- cluster: every watched node polled each second; sparklines of the last 60 samples ----
const history = new Map();
function record(name, value) {
  const series = history.get(name) || []; series.push(value); if (series.length > 60) series.shift(); history.set(name, series);
  return series;
}
function sparkline(series, color) {
  const canvas = el("canvas", { class: "spark", width: "280", height: "36" });
  const ctx = canvas.getContext("2d"), max = Math.max(1, ...series);
  ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
  const step = 280 / Math.max(series.length - 1, 1);
  series.forEach((v, i) => { const x = i * step, y = 34 - (v / max) * 32; i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
  ctx.stroke();
  return canvas;
}
function metric(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
  return line ? Number(line.split(" ").pop()) : null;
}
function buckets(text, name) {
  return text.split("\n").filter((l) => l.startsWith(name + "_bucket{")).map((l) => ({ le: Number(l.match(/le="([^"]+)"/)[1].replace("+Inf", "Infinity")), count: Number(l.split(" ").pop()) }));
}
function quantile(now, before, q) {
  const counts = now.map((b, i) => ({ le: b.le, count: b.count - (before?.[i]?.count || 0) }));
  const total = counts.length ? counts[counts.length - 1].count : 0;
  if (!total) return null;
  const hit = counts.find((b) => b.count >= q * total);
  return hit && isFinite(hit.le) ? hit.le * 1000 : null;
}
const previous = new Map();
function peers() { return (localStorage.getItem("ripple.peers") || "").split(",").map((s) => s.trim()).filter(Boolean); }
$("peers").value = peers().join(", ");
$("peers-save").onclick = () => { localStorage.setItem("ripple.peers", $("peers").value); pollCluster(); };
async function pollCluster() {
  const targets = [{ base: "", label: location.host }, ...peers().map((p) => ({ base: p.replace(/\/$/, ""), label: p.replace(/^https?:\/\//, "") }))];
  const cards = await Promise.all(targets.map(async (t) => {
    try { return nodeCard(t, await api("node", undefined, t.base)); }
    catch (e) { return el("div", { class: "panel node-card down", "data-node": t.label }, el("h2", {}, t.label), el("div", { class: "error" }, "unreachable: " + e.message)); }
  }));
  $("nodes").replaceChildren(...cards);
}
function nodeCard(target, n) {
  const now = Date.now(), prev = previous.get(target.label);
  const commits = metric(n.metrics, "ripple_commits_total");
  const lat = buckets(n.metrics, "ripple_mutation_duration");
  const commitsPerSecond = prev && commits != null ? Math.max(0, (commits - prev.commits) / ((now - prev.at) / 1000)) : 0;
  const window = (previous.get(target.label + "#window") || []).concat([{ at: now, lat }]).filter((w) => now - w.at < 30000);
  previous.set(target.label + "#window", window);
  previous.set(target.label, { at: now, commits });
  const p50 = quantile(lat, window[0].lat === lat ? null : window[0].lat, 0.5), p99 = quantile(lat, window[0].lat === lat ? null : window[0].lat, 0.99);
  const commitSeries = record(target.label + "#commits", commitsPerSecond);
  const card = el("div", { class: "panel node-card", "data-node": n.nodeId },
    el("h2", {}, `${n.nodeId} · ${n.role}`),
    el("dl", {},
      el("dt", {}, "address"), el("dd", {}, target.label),
      el("dt", {}, "applied ts"), el("dd", {}, n.appliedTs),
      el("dt", {}, "clients"), el("dd", {}, String(n.sessions)),
      el("dt", {}, "live queries"), el("dd", {}, String(n.liveQueries)),
      el("dt", {}, "commits/s"), el("dd", { class: "commits-rate" }, commitsPerSecond.toFixed(1)),
      el("dt", {}, "mutation p50/p99"), el("dd", {}, (p50 == null ? "—" : p50.toFixed(1) + " ms") + " / " + (p99 == null ? "—" : p99.toFixed(1) + " ms")),
      ...(n.scheduler ? [el("dt", {}, "scheduler"), el("dd", { class: "wrap" }, n.scheduler.holder + (n.scheduler.holdsLease ? " (holds the lease)" : " (standby)"))] : [])),
    el("div", { class: "dim" }, "commits/s"), sparkline(commitSeries, "#4fb3ff"));
  for (const [replica, status] of Object.entries(n.replicas || {})) {
    const lagMs = Math.max(0, (Number(BigInt(n.appliedTs) - BigInt(status.appliedTs)) / 1e6));
    const series = record(target.label + "#lag#" + replica, status.lagCommits);
    card.append(el("div", { class: "replica", "data-replica": replica },
      el("div", {}, el("b", {}, replica), " lag ", el("span", { class: "lag-commits" }, String(status.lagCommits)), " commits, ",
        el("span", { class: "lag-ms" }, lagMs.toFixed(0)), " ms"),
      sparkline(series, status.lagCommits > 0 ? "#ff6b6b" : "#3ecf8e")));
  }
  return card;
}

// ---- loops ----
let loops = [];
function stopLoops() { loops.forEach(clearInterval); loops = []; if (socket) socket.close(); }
function every(ms, f) { const run = () => f().catch(() => {}); run(); loops.push(setInterval(run, ms)); }
function start() {
  $("node-label").textContent = location.host;
  showTab(activeTab);
  every(1000, pollLogs);
  every(1000, async () => { if (activeTab === "cluster") await pollCluster(); });
  every(3000, async () => { if (activeTab === "scheduling") await loadScheduling(); });
}
if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY)); else signOut("");
</script>
</body>
</html>
"""#
}
