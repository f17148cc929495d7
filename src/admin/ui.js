"use strict";
const entries = new Map();

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
  const resp = await fetch(`/escalations/${encodeURIComponent(id)}/${verb}`, {
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
  const list = await (await fetch("/escalations")).json();
  for (const e of list.escalations || []) entries.set(e.id, e);
  render();
  const summary = await (await fetch("/ui/summary")).json();
  const refusals = Object.entries(summary.refusals || {}).map(([k, v]) => `${k}: ${v}`).join(" · ") || "none";
  document.getElementById("summary").textContent =
    `tape writer ${summary.tape.writer}, head seq ${summary.tape.head_seq}, hash ${text(summary.tape.head_hash).slice(0, 16)}… — refusals: ${refusals}`;
}

const source = new EventSource("/ui/events");
source.onopen = () => { document.getElementById("status").textContent = "live"; refresh(); };
source.onerror = () => { document.getElementById("status").textContent = "reconnecting…"; };
source.addEventListener("escalation", (ev) => upsert(JSON.parse(ev.data)));
setInterval(refresh, 10000);
