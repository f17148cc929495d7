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

async function decide(id, verb, reason) {
  let body = {};
  if (verb === "reject") {
    if (!reason) {
      const input = document.getElementById(`reason-${id}`);
      if (input) input.focus();
      return;
    }
    body = { reason };
  }
  const resp = await api(`/escalations/${encodeURIComponent(id)}/${verb}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await resp.json();
  if (!answer.ok) document.getElementById("status").textContent = answer.message || answer.error;
  else upsert(answer.escalation);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

// The held call in full, as the sidecar shows it (secrets masked): every
// value goes in as text, never as HTML.
function reviewBlock(e) {
  const box = el("div", undefined, "review");
  const r = e.review;
  if (!r) return box;
  if (r.method) box.appendChild(el("div", `${r.method} ${text(r.path)}`));
  if (r.tool_description) box.appendChild(el("div", `tool says: ${r.tool_description}`));
  for (const w of r.why || []) {
    box.appendChild(el("div", `${w.reason}: ${w.description} — matched ${w.matched}`, "why"));
  }
  for (const c of r.commands || []) {
    const pre = el("pre");
    for (const p of c.parts || []) {
      pre.appendChild(el("span", p.text, p.flagged ? "flagged" : undefined));
      pre.appendChild(document.createTextNode("\n"));
    }
    if (!(c.parts || []).length) pre.textContent = c.line;
    box.appendChild(pre);
  }
  if (r.arguments !== undefined) box.appendChild(el("pre", JSON.stringify(r.arguments, null, 2)));
  for (const f of r.changed_files || []) box.appendChild(el("div", `changes ${f}`));
  const who = [r.principal && `principal ${r.principal}`, r.client_ip && `from ${r.client_ip}`].filter(Boolean).join(" · ");
  if (who) box.appendChild(el("div", who));
  if (e.expires_in_ms !== undefined) {
    box.appendChild(el("div", `held ${Math.round(e.held_ms / 1000)}s · expires in ${Math.round(e.expires_in_ms / 1000)}s`));
  }
  if (e.approval_note) box.appendChild(el("div", e.approval_note));
  return box;
}

// A link from a notification (`/ui#esc_…`) selects its entry.
let selected = location.hash.startsWith("#esc_") ? location.hash.slice(1) : null;
function matchesFilters(e) {
  const agent = document.getElementById("f-agent").value.trim();
  const risk = document.getElementById("f-risk").value;
  const tool = document.getElementById("f-tool").value.trim();
  if (agent && !text(e.agent).includes(agent)) return false;
  if (risk && e.risk !== risk) return false;
  if (tool && !text(e.action && e.action.tool).includes(tool)) return false;
  return true;
}

function render() {
  const pending = document.getElementById("pending");
  const decided = document.getElementById("decided");
  // A live update must not eat a reason being typed.
  const typed = new Map([...pending.querySelectorAll("input.reason")].map((i) => [i.id, i.value]));
  const focused = document.activeElement && document.activeElement.id;
  pending.replaceChildren();
  decided.replaceChildren();
  const all = [...entries.values()].sort((a, b) => b.created_ms - a.created_ms);
  for (const e of all) {
    if (e.status === "pending") {
      if (!matchesFilters(e)) continue;
      const row = pending.insertRow();
      row.id = `row-${e.id}`;
      row.dataset.id = e.id;
      if (selected === e.id) row.className = "selected";
      cell(row, "").appendChild(document.createElement("code")).textContent = e.id;
      cell(row, e.agent);
      const action = cell(row, describe(e.action));
      action.appendChild(reviewBlock(e));
      cell(row, e.risk, `risk-${e.risk}`);
      cell(row, (e.reasons || []).join(", "));
      cell(row, e.created_at);
      const actions = row.insertCell();
      const approve = el("button", "Approve", "approve");
      approve.addEventListener("click", () => decide(e.id, "approve"));
      const reason = el("input", undefined, "reason");
      reason.id = `reason-${e.id}`;
      reason.placeholder = "reason to reject";
      reason.value = typed.get(reason.id) || "";
      reason.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") decide(e.id, "reject", reason.value.trim());
        ev.stopPropagation();
      });
      const reject = el("button", "Reject", "reject");
      reject.addEventListener("click", () => decide(e.id, "reject", reason.value.trim()));
      actions.append(approve, reason, reject);
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
  const again = focused && document.getElementById(focused);
  if (again && again.classList.contains("reason")) again.focus();
}

// Keyboard: j / k move the selection, a approves it, r focuses its reason.
document.addEventListener("keydown", (ev) => {
  if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
  const rows = [...document.querySelectorAll("#pending tr[data-id]")];
  if (!rows.length) return;
  let at = rows.findIndex((r) => r.dataset.id === selected);
  if (ev.key === "j") at = Math.min(at + 1, rows.length - 1);
  else if (ev.key === "k") at = Math.max(at - 1, 0);
  else if (ev.key === "a" && at >= 0) { decide(selected, "approve"); return; }
  else if (ev.key === "r" && at >= 0) { ev.preventDefault(); document.getElementById(`reason-${selected}`).focus(); return; }
  else return;
  selected = rows[Math.max(at, 0)].dataset.id;
  render();
});
for (const id of ["f-agent", "f-risk", "f-tool"]) for (const ev of ["input", "change"]) document.getElementById(id).addEventListener(ev, render);

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
        if (event.includes("event: escalation") && data) {
          const entry = JSON.parse(data);
          upsert(entry);
          // The review view comes from the API (the event carries metadata).
          if (entry.status === "pending") refresh().catch(() => {});
        }
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
