// The jobctl console: one page, no build step, served from the binary. Live through one
// event stream (fetch with the token in a header: EventSource can't send one, and a token
// never goes into a URL). The token is kept for this tab only (sessionStorage).
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const when = (s) => (s ? new Date(s).toLocaleString() : "-");
const dur = (ms) => {
  if (ms == null) return "-";
  if (ms < 1000) return ms + "ms";
  let s = Math.floor(ms / 1000), out = "";
  for (const [n, u] of [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]]) {
    if (s >= n) { out += Math.floor(s / n) + u; s %= n; }
  }
  return out;
};
const status = (s) => `<span class="status s-${esc(s)}">${esc(s)}</span>`;

const app = {
  token: sessionStorage.getItem("jobctl-token"),
  claims: null,
  view: null,
  listeners: new Set(),
  stream: null,
};

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - part.length % 4) % 4)));
  } catch { return null; }
}
const canWrite = () => (app.claims?.scopes || []).includes("supervisor:write");

async function api(path, opts = {}) {
  const r = await fetch("/api/v1" + path, {
    ...opts,
    headers: { Authorization: "Bearer " + app.token, "Content-Type": "application/json", ...(opts.headers || {}) },
  });
  if (r.status === 401) { signOut("Your token was refused: sign in again."); throw new Error("unauthorized"); }
  const type = r.headers.get("content-type") || "";
  const body = type.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error(body?.error?.message || r.statusText);
  return { body, headers: r.headers };
}

// One stream of the event log for the whole page; views subscribe to it.
async function follow() {
  let last = 0;
  for (;;) {
    if (!app.token) return;
    const ctl = new AbortController();
    app.stream = ctl;
    try {
      const headers = { Authorization: "Bearer " + app.token };
      if (last) headers["Last-Event-ID"] = String(last);
      const r = await fetch("/api/v1/events/stream", { headers, signal: ctl.signal });
      if (r.status === 401) { signOut("Your token was refused: sign in again."); return; }
      if (!r.ok || !r.body) throw new Error("stream " + r.status);
      $("#live").className = "dot on";
      const reader = r.body.getReader();
      const text = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let id = null, data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) id = Number(line.slice(3).trim());
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (id != null && data) {
            last = id;
            const ev = JSON.parse(data);
            for (const f of app.listeners) f(ev);
          }
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    $("#live").className = "dot off";
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function onEvent(f) { app.listeners.add(f); return () => app.listeners.delete(f); }

function signOut(message) {
  sessionStorage.removeItem("jobctl-token");
  app.token = null; app.claims = null;
  app.stream?.abort();
  // Cleared without a hashchange, whose render would replace the form drawn here.
  history.replaceState(null, "", location.pathname + location.search);
  render();
  if (message) { const e = $("#signin-error"); e.textContent = message; e.hidden = false; }
}

function signInForm() {
  $("#main").innerHTML = `<form id="signin" class="card"><h1>Sign in</h1>
    <p>Paste a token made with <code>jobctl token create</code>. It is kept for this tab only.</p>
    <textarea id="token" rows="4" spellcheck="false" autocomplete="off" placeholder="eyJ..."></textarea>
    <p id="signin-error" class="error" hidden></p><button type="submit" class="primary">Sign in</button></form>`;
  $("#signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("#token").value.trim();
    app.token = token;
    try {
      await api("/status");
      sessionStorage.setItem("jobctl-token", token);
      app.claims = claimsOf(token);
      location.hash = "#/jobs";
      render();
      follow();
    } catch (err) {
      app.token = null;
      const el = $("#signin-error");
      el.textContent = "That token was not accepted."; el.hidden = false;
    }
  });
}

let unsubscribe = () => {};
function render() {
  unsubscribe(); unsubscribe = () => {};
  const signedIn = !!app.token;
  $("#nav").hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  $("#who").textContent = signedIn ? `${app.claims?.sub ?? ""}${canWrite() ? "" : " (read only)"}` : "";
  if (!signedIn) return signInForm();
  const [, view, arg] = (location.hash || "#/jobs").split("/");
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  const views = { jobs: jobsView, runs: runsView, run: runView, agents: agentsView, tree: treeView };
  (views[view] || jobsView)(arg);
}

// A failed action is said in a banner (an alert would block the page).
function flash(message) {
  const el = $("#flash");
  el.textContent = message; el.hidden = false;
  clearTimeout(flash.t); flash.t = setTimeout(() => { el.hidden = true; }, 8000);
}

function debounce(f, ms = 150) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); }; }

async function act(button, path, body) {
  button.disabled = true;
  try { await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined }); }
  catch (e) { flash(e.message); }
  finally { button.disabled = false; }
}

async function jobsView() {
  $("#main").innerHTML = `<h1>Jobs</h1><div class="scroll"><table id="jobs"><thead><tr>
    <th>Job</th><th>Type</th><th>Schedule</th><th>Next</th><th>Last run</th><th>Status</th><th>Duration</th>
    ${canWrite() ? "<th></th>" : ""}</tr></thead><tbody></tbody></table></div>`;
  const tbody = $("#jobs tbody");
  const load = async () => {
    const { body: rows } = await api("/jobs");
    if (!tbody.isConnected) return; // another view by now
    tbody.innerHTML = rows.map((r) => `<tr data-job="${esc(r.name)}">
      <td>${esc(r.name)}</td><td>${esc(r.type)}</td><td>${esc(r.schedule)}</td>
      <td>${r.running_run_id ? `<a href="#/run/${r.running_run_id}">running (run ${r.running_run_id})</a>` : r.paused ? "paused" : !r.enabled ? "disabled" : r.due ? "due now" : r.next_run ? when(r.next_run) : "manual"}</td>
      <td>${r.last_run_id ? `<a href="#/run/${r.last_run_id}">${when(r.last_run)}</a>` : "never"}</td>
      <td class="last-status">${r.last_status ? status(r.last_status) : "-"}</td><td>${dur(r.last_duration_ms)}</td>
      ${canWrite() ? `<td class="actions"><button data-act="run">Run now</button>
        <button data-act="${r.paused ? "resume" : "pause"}">${r.paused ? "Resume" : "Pause"}</button></td>` : ""}</tr>`).join("");
  };
  $("#jobs").addEventListener("click", (e) => {
    const b = e.target.closest("button"); if (!b) return;
    const job = b.closest("tr").dataset.job;
    act(b, `/jobs/${encodeURIComponent(job)}/${b.dataset.act}`).then(load);
  });
  await load();
  unsubscribe = onEvent(debounce(load));
}

async function runsView() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  $("#main").innerHTML = `<h1>Runs</h1><form class="filters" id="filters">
      <input name="job" placeholder="job" value="${esc(params.get("job") || "")}">
      <select name="status"><option value="">any status</option>${["queued", "running", "paused", "retrying", "succeeded", "failed", "timed_out", "cancelled", "lost", "skipped"]
        .map((s) => `<option ${params.get("status") === s ? "selected" : ""}>${s}</option>`).join("")}</select>
      <button type="submit">Filter</button></form>
    <div class="scroll"><table id="runs"><thead><tr><th>Run</th><th>Job</th><th>Started</th><th>Duration</th><th>Status</th><th>Agent</th><th>Reason</th></tr></thead><tbody></tbody></table></div>
    <p><button id="more" hidden>Older runs</button></p>`;
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams([...new FormData(e.target)].filter(([, v]) => v));
    location.hash = "#/runs?" + q;
  });
  let next = null;
  const tbody = $("#runs tbody");
  const load = async (append) => {
    const q = new URLSearchParams();
    for (const k of ["job", "status"]) if (params.get(k)) q.set(k, params.get(k));
    if (append && next) q.set("before", next);
    const { body } = await api("/runs?" + q);
    const html = body.runs.map((r) => `<tr><td><a href="#/run/${r.run_id}">${r.run_id}</a></td><td>${esc(r.job)}</td>
      <td>${when(r.started_at)}</td><td>${dur(r.duration_ms)}</td><td>${status(r.status)}</td><td>${esc(r.agent || "-")}</td>
      <td class="wrap muted">${esc(r.error || "")}</td></tr>`).join("");
    if (!tbody.isConnected) return;
    if (append) tbody.insertAdjacentHTML("beforeend", html); else tbody.innerHTML = html;
    next = body.next;
    $("#more").hidden = !next;
  };
  $("#more").addEventListener("click", () => load(true));
  await load(false);
  unsubscribe = onEvent(debounce(() => { if (!next) load(false); }));
}

async function runView(id) {
  $("#main").innerHTML = `<div id="run" class="card"></div><h2>Events</h2><ul class="timeline card" id="timeline"></ul>
    <h2>Log</h2><pre class="log" id="log"></pre>`;
  // The log as it grows, on one answer the server keeps open until the run ends.
  const logs = new AbortController();
  (async () => {
    try {
      const r = await fetch(`/api/v1/runs/${id}/log?tail=65536&follow=true`,
        { headers: { Authorization: "Bearer " + app.token }, signal: logs.signal });
      if (!r.ok || !r.body) return;
      const reader = r.body.getReader();
      const text = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const el = $("#log");
        if (!el) break;
        el.textContent += text.decode(value, { stream: true });
        el.scrollTop = el.scrollHeight;
      }
    } catch {}
  })();
  const card = $("#run");
  const load = async () => {
    const { body: r } = await api(`/runs/${id}`);
    if (!card.isConnected) return r;
    // The moves the run's state allows (control.md); the server refuses the rest anyway.
    const moves = { running: ["pause", "cancel"], paused: ["resume", "cancel"], queued: ["cancel"], retrying: ["cancel"] };
    const allowed = canWrite() ? moves[r.status] || [] : [];
    const actions = allowed.length ? `<div class="actions">${allowed.map((m) =>
      `<button data-act="${m}">${m[0].toUpperCase() + m.slice(1)}</button>`).join("")}</div>` : "";
    const { body: subs } = await api(`/runs?parent=${id}&limit=100`);
    if (!card.isConnected) return r;
    $("#run").innerHTML = `<h1>Run ${r.run_id} of ${esc(r.job)} ${status(r.status)}</h1>${actions}
      <dl class="kv"><dt>trigger</dt><dd>${esc(r.trigger)}${r.attempt > 1 ? `, attempt ${r.attempt} of run <a href="#/run/${r.retry_of}">${r.retry_of}</a>` : ""}</dd>
      ${r.parent_run_id != null ? `<dt>parent</dt><dd><a href="#/run/${r.parent_run_id}">run ${r.parent_run_id}</a> (depth ${r.depth})</dd>` : ""}
      ${subs.runs.length ? `<dt>sub-runs</dt><dd id="subruns">${subs.runs.map((c) => `<a href="#/run/${c.run_id}">run ${c.run_id}</a> ${esc(c.job)} ${status(c.status)}`).join("<br>")}</dd>` : ""}
      ${r.metadata ? `<dt>metadata</dt><dd><code>${esc(JSON.stringify(r.metadata))}</code></dd>` : ""}
      <dt>slot</dt><dd>${when(r.scheduled_for)}</dd><dt>started</dt><dd>${when(r.started_at)}</dd>
      <dt>ended</dt><dd>${when(r.ended_at)}</dd><dt>duration</dt><dd>${dur(r.duration_ms)}</dd>
      <dt>exit</dt><dd>${r.exit_code ?? (r.signal ? "signal " + r.signal : "-")}</dd>
      ${r.error ? `<dt>error</dt><dd class="error">${esc(r.error)}</dd>` : ""}
      ${r.agent ? `<dt>agent</dt><dd>${esc(r.agent)} ${esc(r.model || "")} (${esc(r.scope || "")}, role ${esc(r.role || "-")})</dd>` : ""}
      ${r.input_tokens != null ? `<dt>usage</dt><dd>${r.input_tokens} in, ${r.output_tokens} out, ${r.num_turns ?? "-"} turns, ${r.tool_calls ?? "-"} tool calls, cost ${r.cost ?? "-"}${r.cost_usd != null ? `, $${r.cost_usd}` : ""}</dd>` : ""}
      ${(r.attempts || []).length ? `<dt>attempts</dt><dd>${r.attempts.map((a) => `${esc(a.agent)}: ${esc(a.outcome)}${a.reason ? " (" + esc(a.reason) + ")" : ""}`).join("<br>")}</dd>` : ""}
      ${r.workspace ? `<dt>workspace</dt><dd>branch <code>${esc(r.workspace.branch)}</code> from ${esc(r.workspace.base)}
        (${r.workspace.files_changed} files, +${r.workspace.insertions} −${r.workspace.deletions})${r.workspace.pushed ? ", pushed" : ""}${r.workspace.kept ? ", kept at <code>" + esc(r.workspace.path) + "</code>" : ""}${r.workspace.push_failure ? `, <span class="error">push failed: ${esc(r.workspace.push_failure)}</span>` : ""}</dd>` : ""}
      ${(r.hooks || []).length ? `<dt>hooks</dt><dd>${r.hooks.map((h) => `${esc(h.hook)}: ${h.ok ? "ok" : `<span class="error">${esc(h.error || "failed")}</span>`}`).join("<br>")}</dd>` : ""}
      </dl>
      ${(r.changes || []).length ? `<h2>Changes</h2><div class="scroll"><table class="changes"><thead><tr><th>File</th><th>Status</th><th>+</th><th>−</th></tr></thead><tbody>
        ${r.changes.map((c) => `<tr><td>${c.from ? esc(c.from) + " → " : ""}${esc(c.path)}</td><td>${esc(c.status)}</td><td>${c.insertions ?? "bin"}</td><td>${c.deletions ?? "bin"}</td></tr>`).join("")}</tbody></table></div>` : ""}`;
    $("#timeline").innerHTML = r.events.map((e) => `<li><span class="muted">${when(e.at)}</span> ${esc(e.kind)}
      ${e.to ? `${e.from ? status(e.from) + " → " : ""}${status(e.to)}` : e.detail?.status ? status(e.detail.status) : ""}
      ${e.by ? `<span class="muted">by ${esc(e.by)}${e.subject ? ":" + esc(e.subject) : ""}</span>` : ""}
      ${e.reason ? `<span class="muted wrap">${esc(e.reason)}</span>` : ""}</li>`).join("");
    for (const b of document.querySelectorAll("#run button[data-act]")) {
      b.addEventListener("click", (e) => act(e.target, `/runs/${id}/${b.dataset.act}`).then(load));
    }
    return r;
  };
  await load();
  // Its own events, and those of its sub-runs: a new run (it may be one) or a listed one's move.
  const mine = (e) => e.run_id === Number(id) || e.kind === "run_queued"
    || document.querySelector(`#subruns a[href="#/run/${e.run_id}"]`);
  const off = onEvent((e) => { if (mine(e)) load(); });
  unsubscribe = () => { off(); logs.abort(); };
}

async function agentsView() {
  $("#main").innerHTML = `<h1>Agents</h1><div class="scroll"><table id="agents"><thead><tr><th>Agent</th><th>Scope</th>
    <th>State</th><th>Reason</th><th>Used</th><th></th>${canWrite() ? "<th></th>" : ""}</tr></thead><tbody></tbody></table></div>`;
  const tbody = $("#agents tbody");
  const load = async () => {
    const { body: rows } = await api("/agents");
    if (!tbody.isConnected) return;
    tbody.innerHTML = rows.map((a) => {
      const pct = a.budget > 0 ? Math.min(100, (100 * a.used) / a.budget) : 100;
      return `<tr data-agent="${esc(a.agent)}" data-scope="${esc(a.scope)}"><td>${esc(a.agent)}</td><td>${esc(a.scope)}</td>
        <td>${a.enabled ? status("enabled").replace("s-enabled", "s-succeeded") : status("disabled").replace("s-disabled", "s-failed")}</td>
        <td class="wrap muted">${esc(a.reason || "")}</td><td>${a.used} / ${a.budget}</td>
        <td><div class="bar ${pct >= 100 ? "full" : ""}"><span style="width:${pct}%"></span></div></td>
        ${canWrite() ? `<td><button data-act="${a.enabled ? "disable" : "enable"}">${a.enabled ? "Disable" : "Enable"}</button></td>` : ""}</tr>`;
    }).join("");
  };
  $("#agents").addEventListener("click", (e) => {
    const b = e.target.closest("button"); if (!b) return;
    const tr = b.closest("tr");
    act(b, `/agents/${encodeURIComponent(tr.dataset.agent)}/${b.dataset.act}`, { scope: tr.dataset.scope }).then(load);
  });
  await load();
  unsubscribe = onEvent(debounce(load));
}

async function treeView() {
  $("#main").innerHTML = `<h1>Run tree</h1><div class="card tree" id="tree"></div>`;
  const tree = $("#tree");
  const load = async () => {
    const { body } = await api("/runs?limit=200");
    const runs = body.runs;
    const kids = new Map();
    for (const r of runs) {
      const p = r.parent_run_id ?? 0;
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(r);
    }
    const ids = new Set(runs.map((r) => r.run_id));
    const roots = runs.filter((r) => r.parent_run_id == null || !ids.has(r.parent_run_id));
    const node = (r) => `<li><a href="#/run/${r.run_id}">run ${r.run_id}</a> ${esc(r.job)} ${status(r.status)}
      ${kids.has(r.run_id) ? `<ul>${kids.get(r.run_id).map(node).join("")}</ul>` : ""}</li>`;
    if (!tree.isConnected) return;
    tree.innerHTML = roots.length ? `<ul>${roots.map(node).join("")}</ul>` : `<p class="muted">No runs yet.</p>`;
  };
  await load();
  unsubscribe = onEvent(debounce(load));
}

$("#signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", render);
if (app.token) { app.claims = claimsOf(app.token); follow(); }
render();
