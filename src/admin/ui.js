"use strict";
const entries = new Map();

// Authentication: a bearer token entered once, kept in this tab's
// sessionStorage and sent as a header on every API call. No cookie exists,
// so no other page can make the browser send credentials here.
function token() { return sessionStorage.getItem("cpos-admin-token"); }
function headers(extra) {
  const h = { ...(extra || {}) };
  if (token()) h.authorization = `Bearer ${token()}`;
  return h;
}
function askForToken() {
  document.getElementById("status").textContent = "sign in to see and decide held calls";
  document.getElementById("login").hidden = false;
}
document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("cpos-admin-token", document.getElementById("token").value.trim());
  document.getElementById("login").hidden = true;
  connect();
});
async function api(path, options) {
  const resp = await fetch(path, { ...(options || {}), headers: headers((options || {}).headers) });
  if (resp.status === 401 || resp.status === 403) {
    sessionStorage.removeItem("cpos-admin-token");
    askForToken();
    throw new Error("not signed in");
  }
  return resp;
}

function text(value) { return value === null || value === undefined ? "" : String(value); }
function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = text(value);
  if (cls) td.className = cls;
  return td;
}
function describe(action) {
  if (!action) return "";
  const target = action.tool ? `tool ${action.tool}` : `${text(action.method)} ${text(action.path)}`;
  return `${action.kind} · ${action.connector} · ${target}`;
}

async function decide(id, verb) {
  let body = {};
  if (verb === "reject") {
    const reason = prompt("Why reject this call?");
    if (!reason) return;
    body = { reason };
  }
  const resp = await api(`/escalations/${encodeURIComponent(id)}/${verb}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await resp.json();
  if (!answer.ok) alert(answer.message || answer.error);
  else upsert(answer.escalation);
}

function render() {
  const pending = document.getElementById("pending");
  const decided = document.getElementById("decided");
  pending.replaceChildren();
  decided.replaceChildren();
  const all = [...entries.values()].sort((a, b) => b.created_ms - a.created_ms);
  for (const e of all) {
    if (e.status === "pending") {
      const row = pending.insertRow();
      row.id = `row-${e.id}`;
      cell(row, "").appendChild(document.createElement("code")).textContent = e.id;
      cell(row, e.agent);
      cell(row, describe(e.action));
      cell(row, e.risk, `risk-${e.risk}`);
      cell(row, (e.reasons || []).join(", "));
      cell(row, e.created_at);
      const actions = row.insertCell();
      for (const verb of ["approve", "reject"]) {
        const b = document.createElement("button");
        b.textContent = verb === "approve" ? "Approve" : "Reject";
        b.className = verb;
        b.dataset.id = e.id;
        b.addEventListener("click", () => decide(e.id, verb));
        actions.appendChild(b);
      }
    } else {
      const row = decided.insertRow();
      cell(row, e.id);
      cell(row, e.status);
      cell(row, e.decided_by);
      cell(row, e.reason);
      cell(row, describe(e.action));
    }
  }
  if (!pending.rows.length) cell(pending.insertRow(), "nothing waiting", "empty").colSpan = 7;
}

function upsert(entry) { entries.set(entry.id, entry); render(); }

async function refresh() {
  const list = await (await api("/escalations")).json();
  for (const e of list.escalations || []) entries.set(e.id, e);
  render();
  const summary = await (await api("/ui/summary")).json();
  const refusals = Object.entries(summary.refusals || {}).map(([k, v]) => `${k}: ${v}`).join(" · ") || "none";
  document.getElementById("summary").textContent =
    `tape writer ${summary.tape.writer}, head seq ${summary.tape.head_seq}, hash ${text(summary.tape.head_hash).slice(0, 16)}… — refusals: ${refusals}`;
}

// Live updates: the SSE stream read with fetch (EventSource cannot send
// the authorization header), reconnecting after a pause.
let live = null;
async function connect() {
  if (live) live.abort();
  live = new AbortController();
  const status = document.getElementById("status");
  try {
    const resp = await api("/ui/events", { signal: live.signal });
    status.textContent = "live";
    refresh().catch(() => {});
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (event.includes("event: escalation") && data) upsert(JSON.parse(data));
      }
    }
  } catch (e) {
    if (!token() && document.getElementById("login").hidden === false) return;
  }
  if (!document.getElementById("login").hidden) return;
  status.textContent = "reconnecting…";
  setTimeout(connect, 2000);
}
connect();
setInterval(() => { if (document.getElementById("login").hidden) refresh().catch(() => {}); }, 10000);
