// The jobctl console: one page, no build step, served from the binary. Live through one
// event stream (fetch with the token in a header: EventSource can't send one, and a token
// never goes into a URL). The token is kept for this tab only (sessionStorage). Tables are
// patched row by row (keyed), never redrawn wholesale, so a live refresh keeps focus and
// scroll. The words of the run state machine (statuses, triggers, the moves each status
// allows) come from the server (`/console/vocabulary.json`), never copied in here.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const $$ = (sel, el = document) => [...el.querySelectorAll(sel)];
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) =>
  ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const enc = encodeURIComponent;

// ---- Times: relative on screen, exact on hover and for screen readers ----
const exact = (iso) => new Date(iso).toLocaleString();
function relText(iso, now = Date.now()) {
  const d = new Date(iso).getTime() - now, a = Math.abs(d);
  if (a < 45000) return d > 0 ? "in a few seconds" : "just now";
  const [n, u] = [[86400000, "day"], [3600000, "h"], [60000, "min"]].find(([n]) => a >= n);
  const v = Math.round(a / n);
  const s = u === "day" ? `${v} day${v > 1 ? "s" : ""}` : `${v} ${u}`;
  return d > 0 ? `in ${s}` : `${s} ago`;
}
const when = (iso) => iso
  ? `<time datetime="${esc(iso)}" title="${esc(exact(iso))}" data-rel>${esc(relText(iso))}<span class="sr"> (${esc(exact(iso))})</span></time>`
  : "-";
setInterval(() => {
  for (const t of $$("time[data-rel]")) t.firstChild.nodeValue = relText(t.getAttribute("datetime"));
}, 30000);
const dur = (ms) => {
  if (ms == null) return "-";
  if (ms < 1000) return ms + "ms";
  let s = Math.floor(ms / 1000), out = "";
  for (const [n, u] of [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]]) {
    if (s >= n) { out += Math.floor(s / n) + u; s %= n; }
  }
  return out;
};
// A status is a word and a colour, never the colour alone.
const status = (s) => `<span class="status s-${esc(s)}">${esc(String(s ?? "").replace("_", " "))}</span>`;

// ---- Session ----
const app = {
  token: sessionStorage.getItem("jobctl-token"),
  claims: null,
  listeners: new Set(),
  stream: null,
  expiry: null,
  vocab: null,
  first: true,
};

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - part.length % 4) % 4)));
  } catch { return null; }
}
const canWrite = () => (app.claims?.scopes || []).includes("supervisor:write");

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}
const OFFLINE = "The server can't be reached (it may be restarting): try again in a moment.";

// One API call: the server's own message on failure, a plain sentence when it is down.
async function api(path, opts = {}) {
  let r;
  try {
    r = await fetch("/api/v1" + path, {
      ...opts,
      headers: { Authorization: "Bearer " + app.token, ...(opts.body ? { "Content-Type": "application/json" } : {}), ...(opts.headers || {}) },
    });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new ApiError(OFFLINE, 0);
  }
  const type = r.headers.get("content-type") || "";
  const body = type.includes("json") ? await r.json().catch(() => null) : await r.text();
  if (r.ok) return { body, headers: r.headers };
  const message = body?.error?.message || `${r.status} ${r.statusText}`;
  if (r.status === 401 && !opts.signingIn) signOut(`You were signed out: ${message}.`);
  throw new ApiError(message, r.status);
}

async function vocabulary() {
  if (!app.vocab) app.vocab = await (await fetch("/console/vocabulary.json")).json();
  return app.vocab;
}

// ---- The one event stream ----
function setLive(state) {
  const el = $("#live");
  el.hidden = state === "hidden";
  el.className = "live-" + state;
  $(".label", el).textContent = { live: "Live", reconnecting: "Reconnecting…", off: "Offline", hidden: "" }[state];
}

async function follow() {
  let last = 0;
  for (let tries = 0; ; tries++) {
    if (!app.token) return;
    const ctl = new AbortController();
    app.stream = ctl;
    try {
      const headers = { Authorization: "Bearer " + app.token };
      if (last) headers["Last-Event-ID"] = String(last);
      const r = await fetch("/api/v1/events/stream", { headers, signal: ctl.signal });
      if (r.status === 401) {
        const b = await r.json().catch(() => null);
        signOut(`You were signed out: ${b?.error?.message || "the token was refused"}.`);
        return;
      }
      if (!r.ok || !r.body) throw new Error("stream " + r.status);
      setLive("live");
      if (tries) for (const f of app.listeners) f({ kind: "reconnected" });
      tries = 0;
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
          let id = null, data = "", kind = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("id:")) id = Number(line.slice(3).trim());
            else if (line.startsWith("event:")) kind = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (kind === "auth") {
            const why = JSON.parse(data || "{}");
            signOut(`You were signed out: ${why.message || why.reason || "the token no longer opens the stream"}.`);
            return;
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
    if (!app.token) return;
    setLive("reconnecting");
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** tries, 5000)));
  }
}
function onEvent(f) { app.listeners.add(f); return () => app.listeners.delete(f); }

function debounce(f, ms = 250) {
  let t;
  const d = (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

function startSession() {
  app.claims = claimsOf(app.token);
  clearTimeout(app.expiry);
  if (app.claims?.exp) {
    const left = app.claims.exp * 1000 - Date.now();
    if (left <= 0) return signOut("You were signed out: the token has expired.");
    app.expiry = setTimeout(() => signOut("You were signed out: the token has expired."), Math.min(left, 2 ** 31 - 1));
  }
  setLive("reconnecting");
  follow();
}

function signOut(message) {
  sessionStorage.removeItem("jobctl-token");
  app.token = null; app.claims = null;
  clearTimeout(app.expiry);
  app.stream?.abort();
  setLive("hidden");
  // Cleared without a hashchange, whose render would replace the form drawn here.
  history.replaceState(null, "", location.pathname + location.search);
  render();
  if (message) { const e = $("#signin-error"); e.textContent = message; e.hidden = false; }
}

function signInForm() {
  document.title = "Sign in · jobctl";
  $("#main").innerHTML = `<form id="signin" class="card"><h1 tabindex="-1">Sign in</h1>
    <p>Paste a token made with <code>jobctl token create</code>. It is kept for this tab only.</p>
    <label for="token">Token</label>
    <textarea id="token" rows="4" spellcheck="false" autocomplete="off" placeholder="eyJ..."></textarea>
    <p id="signin-error" class="error" role="alert" hidden></p><button type="submit" class="primary">Sign in</button></form>`;
  $("#signin").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("#token").value.trim();
    app.token = token;
    try {
      await api("/status", { signingIn: true });
      sessionStorage.setItem("jobctl-token", token);
      if (!location.hash || location.hash === "#") history.replaceState(null, "", "#/jobs");
      startSession();
      render();
    } catch (err) {
      app.token = null;
      const el = $("#signin-error");
      el.textContent = err.status === 401 ? `That token was not accepted: ${err.message}.` : err.message;
      el.hidden = false;
    }
  });
}

// ---- Views ----
function route() {
  const [path, query = ""] = (location.hash.slice(1) || "/jobs").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || "jobs", arg: parts[1], params: new URLSearchParams(query) };
}

let stopView = () => {};
async function render() {
  stopView(); stopView = () => {};
  const signedIn = !!app.token;
  $("#nav").hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  $("#who").textContent = signedIn ? `${app.claims?.sub ?? ""}${canWrite() ? "" : " (read only)"}` : "";
  if (!signedIn) return signInForm();
  const { view, arg, params } = route();
  const views = { jobs: arg ? jobView : jobsView, runs: runsView, run: runView, timeline: timelineView, agents: agentsView, tree: treeView };
  const draw = views[view] || jobsView;
  const nav = { run: "runs" }[view] || (views[view] ? view : "jobs");
  for (const a of $$("nav a")) {
    if (a.dataset.view === nav) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const moveFocus = !app.first;
  app.first = false;
  const main = $("#main");
  main.setAttribute("aria-busy", "true");
  delete main.dataset.hash;
  let stops = [];
  const ctx = { params, arg, stop: (f) => stops.push(f), title: (t) => { document.title = `${t} · jobctl`; } };
  stopView = () => { for (const f of stops) f(); stops = []; };
  const mine = stopView;
  try {
    await draw(ctx);
  } catch (e) {
    if (stopView !== mine) return;
    main.innerHTML = `<h1 tabindex="-1">Something went wrong</h1><p class="error" role="alert">${esc(e.message)}</p>`;
    ctx.title("Error");
  }
  if (stopView !== mine) return;
  main.removeAttribute("aria-busy");
  main.dataset.hash = location.hash;
  if (moveFocus) $("main h1")?.focus();
}

// A failed action is said in a banner (an alert would block the page), in the server's words.
function flash(message) {
  const el = $("#flash");
  el.textContent = message; el.hidden = false;
  clearTimeout(flash.t); flash.t = setTimeout(() => { el.hidden = true; }, 10000);
}

// While its request is out a button says so and ignores clicks; it is not disabled,
// which would take the focus from it.
async function act(button, path, body) {
  if (button.getAttribute("aria-disabled") === "true") return null;
  button.setAttribute("aria-disabled", "true");
  try {
    const r = await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
    return r.body;
  } catch (e) { flash(e.message); return null; } finally { button.removeAttribute("aria-disabled"); }
}

// Keyed rows: each row is redrawn only when what it shows changed, and focus inside a
// redrawn row goes back to the same control.
const drawn = new WeakMap();
function patchRows(tbody, items, key, row) {
  const active = document.activeElement;
  const activeRow = active?.closest?.("tr[data-key]");
  const focusKey = activeRow && tbody.contains(activeRow)
    ? { row: activeRow.dataset.key, act: active.dataset.act, href: active.getAttribute("href"), at: $$("button, a, input", activeRow).indexOf(active) } : null;
  const seen = new Set();
  let prev = null;
  for (const it of items) {
    const k = String(key(it));
    seen.add(k);
    const { attrs = {}, html } = row(it);
    let tr = tbody.querySelector(`:scope > tr[data-key="${CSS.escape(k)}"]`);
    if (!tr) { tr = document.createElement("tr"); tr.dataset.key = k; }
    for (const [a, v] of Object.entries(attrs)) tr.dataset[a] = v;
    if (drawn.get(tr) !== html) { tr.innerHTML = html; drawn.set(tr, html); }
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (tr !== want) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of [...tbody.children]) if (!seen.has(tr.dataset.key)) tr.remove();
  if (focusKey && document.activeElement !== active) {
    const tr = tbody.querySelector(`:scope > tr[data-key="${CSS.escape(focusKey.row)}"]`);
    const again = tr && ((focusKey.act && $(`[data-act="${focusKey.act}"]`, tr))
      || (focusKey.href && $(`a[href="${CSS.escape(focusKey.href)}"]`, tr)) || $$("button, a, input", tr)[focusKey.at]);
    again?.focus();
  }
}

const notFound = (what) => `<h1 tabindex="-1">Not found</h1><p role="alert">${what}: it does not exist, or this token can't see it.</p>`;

// ---- Jobs ----
async function jobsView(ctx) {
  ctx.title("Jobs");
  const q = ctx.params.get("q") || "";
  $("#main").innerHTML = `<h1 tabindex="-1">Jobs</h1>
    <div class="filters"><label for="jobfilter">Filter jobs</label>
    <input id="jobfilter" type="search" value="${esc(q)}" placeholder="name, type or schedule"></div>
    <table id="jobs" class="cards"><thead><tr>
    <th scope="col">Job</th><th scope="col">Type</th><th scope="col">Schedule</th><th scope="col">Next</th><th scope="col">Last run</th><th scope="col">Status</th><th scope="col">Duration</th>
    ${canWrite() ? `<th scope="col"><span class="sr">Actions</span></th>` : ""}</tr></thead><tbody></tbody></table>
    <p id="nojobs" class="muted" hidden>No job matches.</p>`;
  const tbody = $("#jobs tbody");
  let rows = [];
  const draw = () => {
    const f = $("#jobfilter").value.trim().toLowerCase();
    const shown = rows.filter((r) => !f || [r.name, r.type, r.schedule].some((v) => String(v).toLowerCase().includes(f)));
    $("#nojobs").hidden = shown.length > 0;
    patchRows(tbody, shown, (r) => r.name, (r) => ({
      attrs: { job: r.name },
      html: `<td data-label="Job"><a href="#/jobs/${enc(r.name)}">${esc(r.name)}</a></td><td data-label="Type">${esc(r.type)}</td><td data-label="Schedule">${esc(r.schedule)}</td>
      <td data-label="Next">${r.running_run_id ? `<a href="#/run/${r.running_run_id}">${esc(r.running_status || "running")} (run ${r.running_run_id})</a>` : r.paused ? "paused" : !r.enabled ? "disabled" : r.due ? "due now" : r.next_run ? when(r.next_run) : "manual"}</td>
      <td data-label="Last run">${r.last_run_id ? `<a href="#/run/${r.last_run_id}">${when(r.last_run)}</a>` : "never"}</td>
      <td data-label="Status" class="last-status">${r.last_status ? status(r.last_status) : "-"}</td><td data-label="Duration">${dur(r.last_duration_ms)}</td>
      ${canWrite() ? `<td class="actions"><button type="button" data-act="run">Run now<span class="sr"> ${esc(r.name)}</span></button>
        <button type="button" data-act="${r.paused ? "resume" : "pause"}">${r.paused ? "Resume" : "Pause"}<span class="sr"> ${esc(r.name)}</span></button></td>` : ""}`,
    }));
  };
  const load = async () => {
    const { body } = await api("/jobs");
    if (!tbody.isConnected) return;
    rows = body;
    draw();
  };
  $("#jobfilter").addEventListener("input", () => {
    const v = $("#jobfilter").value.trim();
    history.replaceState(null, "", "#/jobs" + (v ? "?q=" + enc(v) : ""));
    draw();
  });
  $("#jobs").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]"); if (!b) return;
    await act(b, `/jobs/${enc(b.closest("tr").dataset.job)}/${b.dataset.act}`);
    load().catch((err) => flash(err.message));
  });
  await load();
  const live = debounce(() => load().catch((err) => flash(err.message)));
  ctx.stop(onEvent(live));
  ctx.stop(live.cancel);
}

// ---- One job ----
function durationChart(runs) {
  const ended = runs.filter((r) => r.duration_ms != null).reverse();
  if (!ended.length) return "";
  const max = Math.max(...ended.map((r) => r.duration_ms), 1);
  // Thirty places, newest on the right: one run is one narrow bar, not the whole width.
  const w = 100 / Math.max(30, ended.length), skip = Math.max(30, ended.length) - ended.length;
  return `<svg class="chart" viewBox="0 0 100 40" preserveAspectRatio="none" role="img"
    aria-label="Durations of the last ${ended.length} ended runs, oldest first, longest ${esc(dur(max))}">
    ${ended.map((r, i) => {
      const h = Math.max(1, (38 * r.duration_ms) / max);
      return `<rect class="b-${esc(r.status)}" x="${(skip + i) * w + w * 0.1}" y="${40 - h}" width="${w * 0.8}" height="${h}"><title>run ${r.run_id}: ${esc(r.status)}, ${esc(dur(r.duration_ms))}</title></rect>`;
    }).join("")}</svg>`;
}

async function jobView(ctx) {
  const name = ctx.arg;
  ctx.title(`Job ${name}`);
  const main = $("#main");
  let job;
  try {
    job = (await api(`/jobs/${enc(name)}`)).body;
  } catch (e) {
    if (e.status !== 404) throw e;
    main.innerHTML = notFound(`No job named ${esc(name)}`);
    return;
  }
  const agent = job.config.type === "agent";
  main.innerHTML = `<h1 tabindex="-1">Job ${esc(name)}</h1><div id="jobhead"></div>
    <div class="grid2"><section class="card" aria-labelledby="h-config"><h2 id="h-config">Configuration</h2><dl class="kv" id="config"></dl></section>
    <section class="card" aria-labelledby="h-next"><h2 id="h-next">Next starts</h2><div id="next"></div></section></div>
    <section class="card" aria-labelledby="h-recent"><h2 id="h-recent">Recent runs</h2><div id="recent"></div>
      <table id="jobruns" class="cards"><thead><tr><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Status</th><th scope="col">Trigger</th></tr></thead><tbody></tbody></table></section>
    ${canWrite() ? `<section class="card" aria-labelledby="h-params"><h2 id="h-params">Run with parameters</h2>
      <form id="runwith">${agent ? `<label for="p-prompt">Prompt</label><textarea id="p-prompt" name="prompt" rows="4"></textarea>` : ""}
      <label for="p-env">Environment <span class="muted">(one NAME=value a line)</span></label><textarea id="p-env" name="env" rows="3" spellcheck="false"></textarea>
      <label for="p-meta">Metadata <span class="muted">(a JSON object)</span></label><textarea id="p-meta" name="metadata" rows="3" spellcheck="false"></textarea>
      <p id="runwith-error" class="error" role="alert" hidden></p>
      <button type="submit" class="primary">Run ${esc(name)}</button></form></section>` : ""}`;
  const head = () => {
    $("#jobhead").innerHTML = `<p>${esc(job.type)}, ${esc(job.schedule)} · ${job.running_run_id ? `<a href="#/run/${job.running_run_id}">${esc(job.running_status || "running")} (run ${job.running_run_id})</a>` : job.paused ? "paused" : !job.enabled ? "disabled" : "idle"}
      · last ${job.last_status ? status(job.last_status) : "never run"}</p>
      ${canWrite() ? `<div class="actions"><button type="button" data-act="run">Run now</button>
      <button type="button" data-act="${job.paused ? "resume" : "pause"}">${job.paused ? "Resume" : "Pause"}</button></div>` : ""}`;
    const c = job.config;
    $("#config").innerHTML = `<dt>type</dt><dd>${esc(c.type)}</dd><dt>schedule</dt><dd>${esc(c.schedule)} (${esc(c.timezone)})</dd>
      <dt>timeout</dt><dd>${dur(c.timeout_ms)}</dd><dt>enabled</dt><dd>${c.enabled ? "yes" : "no"}</dd><dt>catch up</dt><dd>${c.catch_up ? "yes" : "no"}</dd>
      <dt>workdir</dt><dd><code>${esc(c.workdir)}</code></dd>${c.agent ? `<dt>agent</dt><dd>${esc(c.agent)} (${esc(c.scope)})</dd>` : ""}`;
    $("#next").innerHTML = job.next_slots.length ? `<ol>${job.next_slots.map((t) => `<li>${when(t)}</li>`).join("")}</ol>` : `<p class="muted">No scheduled start.</p>`;
  };
  const loadRuns = async () => {
    const { body } = await api(`/runs?job=${enc(name)}&limit=30`);
    if (!main.isConnected || !$("#recent")) return;
    const runs = body.runs;
    const ended = runs.filter((r) => vocab.ended.includes(r.status));
    const ok = ended.filter((r) => r.status === "succeeded").length;
    $("#recent").innerHTML = ended.length
      ? `<p>Success rate <strong>${Math.round((100 * ok) / ended.length)}%</strong> (${ok} of the last ${ended.length} ended runs)</p>${durationChart(runs)}`
      : `<p class="muted">No ended run yet.</p>`;
    patchRows($("#jobruns tbody"), runs, (r) => r.run_id, (r) => ({
      html: `<td data-label="Run"><a href="#/run/${r.run_id}">run ${r.run_id}</a></td><td data-label="Started">${when(r.started_at)}</td>
        <td data-label="Duration">${dur(r.duration_ms)}</td><td data-label="Status">${status(r.status)}</td><td data-label="Trigger">${esc(r.trigger)}</td>`,
    }));
  };
  const vocab = await vocabulary();
  head();
  await loadRuns();
  $("#jobhead").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]"); if (!b) return;
    const r = await act(b, `/jobs/${enc(name)}/${b.dataset.act}`);
    if (r && b.dataset.act === "run") location.hash = `#/run/${r.run_id}`;
  });
  $("#runwith")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const err = $("#runwith-error");
    err.hidden = true;
    const body = { job: name };
    const prompt = $("#p-prompt")?.value.trim();
    if (prompt) body.prompt = prompt;
    const env = {};
    for (const line of $("#p-env").value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf("=");
      if (at < 1) { err.textContent = `"${line}" is not NAME=value.`; err.hidden = false; $("#p-env").focus(); return; }
      env[line.slice(0, at)] = line.slice(at + 1);
    }
    if (Object.keys(env).length) body.env = env;
    const meta = $("#p-meta").value.trim();
    if (meta) {
      try { body.metadata = JSON.parse(meta); } catch (x) {
        err.textContent = `The metadata is not JSON: ${x.message}`; err.hidden = false; $("#p-meta").focus(); return;
      }
    }
    const button = $("#runwith button[type=submit]");
    button.disabled = true;
    try {
      const { body: run } = await api("/runs", { method: "POST", body: JSON.stringify(body) });
      location.hash = `#/run/${run.run_id}`;
    } catch (x) { err.textContent = x.message; err.hidden = false; } finally { button.disabled = false; }
  });
  const live = debounce(async (refreshJob) => {
    try {
      if (refreshJob) { job = (await api(`/jobs/${enc(name)}`)).body; if ($("#jobhead")) head(); }
      await loadRuns();
    } catch (x) { flash(x.message); }
  }, 300);
  ctx.stop(onEvent((ev) => { if (ev.job === name || ev.kind === "reconnected" || !ev.run_id) live(true); }));
  ctx.stop(live.cancel);
}

// ---- Runs ----
const RUN_FILTERS = ["job", "status", "trigger", "since", "until", "q"];
async function runsView(ctx) {
  ctx.title("Runs");
  const vocab = await vocabulary();
  const p = ctx.params;
  const opt = (list, cur) => list.map((s) => `<option value="${esc(s)}" ${cur === s ? "selected" : ""}>${esc(s.replace("_", " "))}</option>`).join("");
  $("#main").innerHTML = `<h1 tabindex="-1">Runs</h1><form class="filters card" id="filters" role="search" aria-label="Filter runs">
      <div><label for="f-job">Job</label><input id="f-job" name="job" value="${esc(p.get("job") || "")}" autocomplete="off"></div>
      <div><label for="f-status">Status</label><select id="f-status" name="status"><option value="">any</option>${opt(vocab.statuses, p.get("status"))}</select></div>
      <div><label for="f-trigger">Trigger</label><select id="f-trigger" name="trigger"><option value="">any</option>${opt(vocab.triggers, p.get("trigger"))}</select></div>
      <div><label for="f-since">From</label><input id="f-since" name="since" type="datetime-local" value="${esc(p.get("since") || "")}"></div>
      <div><label for="f-until">To</label><input id="f-until" name="until" type="datetime-local" value="${esc(p.get("until") || "")}"></div>
      <div><label for="f-q">Text <span class="muted">(error, metadata)</span></label><input id="f-q" name="q" type="search" value="${esc(p.get("q") || "")}"></div>
      <div class="filter-go"><button type="submit">Filter</button></div></form>
    <table id="runs" class="cards"><thead><tr><th scope="col">Run</th><th scope="col">Job</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Agent</th><th scope="col">Reason</th></tr></thead><tbody></tbody></table>
    <p id="norun" class="muted" hidden>No run matches.</p>
    <p><button type="button" id="more" hidden>Older runs</button></p>`;
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams([...new FormData(e.target)].filter(([, v]) => v));
    const hash = "#/runs" + (String(q) ? "?" + q : "");
    if (location.hash === hash) render(); else location.hash = hash;
  });
  // The job and status are the server's filters; trigger, time range and text are read
  // from the rows (a page at a time), newest first, until a page is full.
  const since = p.get("since") ? new Date(p.get("since")).getTime() : null;
  const until = p.get("until") ? new Date(p.get("until")).getTime() : null;
  const text = (p.get("q") || "").toLowerCase();
  const match = (r) => (!p.get("trigger") || r.trigger === p.get("trigger"))
    && (since == null || new Date(r.started_at).getTime() >= since)
    && (until == null || new Date(r.started_at).getTime() <= until)
    && (!text || [r.error, r.metadata && JSON.stringify(r.metadata), r.job, String(r.run_id)].some((v) => v && v.toLowerCase().includes(text)));
  const server = new URLSearchParams();
  for (const k of ["job", "status"]) if (p.get(k)) server.set(k, p.get(k));
  const runs = new Map();
  let cursor = null, done = false;
  const tbody = $("#runs tbody");
  const draw = () => {
    const list = [...runs.values()].sort((a, b) => b.run_id - a.run_id);
    patchRows(tbody, list, (r) => r.run_id, (r) => ({
      html: `<td data-label="Run"><a href="#/run/${r.run_id}">${r.run_id}</a></td><td data-label="Job"><a href="#/jobs/${enc(r.job)}">${esc(r.job)}</a></td>
      <td data-label="Started">${when(r.started_at)}</td><td data-label="Duration">${dur(r.duration_ms)}</td><td data-label="Status">${status(r.status)}</td>
      <td data-label="Trigger">${esc(r.trigger)}</td><td data-label="Agent">${esc(r.agent || "-")}</td><td data-label="Reason" class="wrap muted">${esc(r.error || "")}</td>`,
    }));
    $("#norun").hidden = list.length > 0;
    $("#more").hidden = done;
  };
  const page = async (before) => {
    const q = new URLSearchParams(server);
    q.set("limit", "100");
    if (before) q.set("before", before);
    return (await api("/runs?" + q)).body;
  };
  const older = async () => {
    let got = 0;
    for (let pages = 0; got < 50 && !done && pages < 20; pages++) {
      const b = await page(cursor);
      for (const r of b.runs) {
        if (since != null && new Date(r.started_at).getTime() < since) { done = true; break; }
        if (match(r)) { runs.set(r.run_id, r); got++; }
      }
      cursor = b.next;
      if (!cursor) done = true;
    }
    if (tbody.isConnected) draw();
  };
  $("#more").addEventListener("click", () => older().catch((e) => flash(e.message)));
  await older();
  // Live: the newest page again, and any listed run that moved; older pages stay.
  const moved = new Set();
  const live = debounce(async () => {
    try {
      const b = await page(null);
      const seen = new Set(b.runs.map((r) => r.run_id));
      for (const r of b.runs) if (match(r) && (runs.has(r.run_id) || !runs.size || r.run_id > Math.min(...runs.keys()) || done)) runs.set(r.run_id, r);
      for (const id of moved) {
        if (seen.has(id) || !runs.has(id)) continue;
        try { runs.set(id, (await api(`/runs/${id}`)).body); } catch {}
      }
      moved.clear();
      if (tbody.isConnected) draw();
    } catch (e) { flash(e.message); }
  }, 300);
  ctx.stop(onEvent((ev) => { if (ev.run_id) moved.add(ev.run_id); live(); }));
  ctx.stop(live.cancel);
}

// ---- Timeline ----
async function timelineView(ctx) {
  ctx.title("Timeline");
  const hours = Math.max(1, Math.min(24 * 14, Number(ctx.params.get("hours")) || 24));
  $("#main").innerHTML = `<h1 tabindex="-1">Timeline</h1>
    <form class="filters" id="range"><div><label for="t-hours">Last</label><select id="t-hours" name="hours">
    ${[1, 6, 24, 72, 168].map((h) => `<option value="${h}" ${h === hours ? "selected" : ""}>${h < 24 ? h + " h" : h / 24 + " days"}</option>`).join("")}</select></div>
    <div class="filter-go"><button type="submit">Show</button></div></form>
    <div id="gantt" class="card"></div>`;
  $("#range").addEventListener("submit", (e) => { e.preventDefault(); location.hash = "#/timeline?hours=" + $("#t-hours").value; });
  const load = async () => {
    const now = Date.now(), t0 = now - hours * 3600000;
    const runs = [];
    let before = null;
    for (let pages = 0; pages < 50; pages++) {
      const q = new URLSearchParams({ limit: "500" });
      if (before) q.set("before", before);
      const { body } = await api("/runs?" + q);
      let past = false;
      for (const r of body.runs) {
        const end = r.ended_at ? new Date(r.ended_at).getTime() : now;
        if (end >= t0) runs.push(r);
        if (new Date(r.started_at).getTime() < t0 - 86400000) past = true;
      }
      before = body.next;
      if (!before || past) break;
    }
    const el = $("#gantt");
    if (!el) return;
    const jobs = [...new Set(runs.map((r) => r.job))].sort();
    const pct = (t) => Math.max(0, Math.min(100, (100 * (t - t0)) / (now - t0)));
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * (now - t0));
    el.innerHTML = jobs.length ? `<div class="gantt-axis" aria-hidden="true">${ticks.map((t, i) =>
      `<span style="left:${i * 25}%">${new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</span>`).join("")}</div>
      <ul class="gantt">${jobs.map((j) => `<li><a class="gantt-job" href="#/jobs/${enc(j)}">${esc(j)}</a><div class="gantt-track">${runs.filter((r) => r.job === j).map((r) => {
        const s = new Date(r.started_at).getTime(), e = r.ended_at ? new Date(r.ended_at).getTime() : now;
        const left = pct(s), width = Math.max(0.6, pct(e) - left);
        return `<a class="gantt-bar b-${esc(r.status)}" href="#/run/${r.run_id}" style="left:${left}%;width:${width}%"
          title="run ${r.run_id}: ${esc(r.status)}, ${esc(exact(r.started_at))}, ${esc(dur(r.duration_ms ?? now - s))}"><span class="sr">run ${r.run_id} of ${esc(j)}: ${esc(r.status)}, started ${esc(exact(r.started_at))}, ${esc(dur(r.duration_ms ?? now - s))}</span></a>`;
      }).join("")}</div></li>`).join("")}</ul>`
      : `<p class="muted">No run in the last ${hours} h.</p>`;
  };
  await load();
  const live = debounce(() => load().catch((e) => flash(e.message)), 1000);
  ctx.stop(onEvent(live));
  ctx.stop(live.cancel);
}

// ---- A run ----
async function runView(ctx) {
  const id = Number(ctx.arg);
  ctx.title(`Run ${ctx.arg}`);
  const main = $("#main");
  if (!Number.isInteger(id) || id < 1) { main.innerHTML = notFound(`No run ${esc(ctx.arg)}`); return; }
  const vocab = await vocabulary();
  let r;
  try { r = (await api(`/runs/${id}`)).body; } catch (e) {
    if (e.status !== 404) throw e;
    main.innerHTML = notFound(`No run ${id}`);
    return;
  }
  ctx.title(`Run ${id} of ${r.job}`);
  main.innerHTML = `<div id="run" class="card"></div><section aria-labelledby="h-events"><h2 id="h-events">Events</h2><ul class="timeline card" id="timeline"></ul></section>
    <section aria-labelledby="h-log"><h2 id="h-log">Log</h2><div id="logbox"></div></section>`;
  let related = { subs: [], retries: [] };
  const draw = () => {
    const card = $("#run");
    if (!card) return;
    const allowed = canWrite() ? vocab.moves[r.status] || [] : [];
    const ended = vocab.ended.includes(r.status);
    const buttons = [...allowed.map((m) => `<button type="button" data-act="${m}">${m[0].toUpperCase() + m.slice(1)}</button>`),
      ...(canWrite() && ended && r.job !== vocab.ask_job ? [`<button type="button" data-act="rerun">Rerun</button>`] : [])];
    const first = r.events?.[0]?.detail || {};
    const active = document.activeElement?.dataset?.act;
    card.innerHTML = `<h1 tabindex="-1">Run ${r.run_id} of <a href="#/jobs/${enc(r.job)}">${esc(r.job)}</a> ${status(r.status)}</h1>
      ${buttons.length ? `<div class="actions">${buttons.join("")}</div>` : ""}
      <dl class="kv"><dt>trigger</dt><dd>${esc(r.trigger)}${first.rerun_of ? `, rerun of <a href="#/run/${first.rerun_of}">run ${first.rerun_of}</a>` : ""}</dd>
      ${r.attempt > 1 ? `<dt>attempt</dt><dd>${r.attempt}, retry of <a href="#/run/${r.retry_of}">run ${r.retry_of}</a></dd>` : ""}
      ${related.retries.length ? `<dt>retries</dt><dd id="retries">${related.retries.map((c) => `<a href="#/run/${c.run_id}">run ${c.run_id}</a> (attempt ${c.attempt}) ${status(c.status)}`).join("<br>")}</dd>` : ""}
      ${r.parent_run_id != null ? `<dt>parent</dt><dd><a href="#/run/${r.parent_run_id}">run ${r.parent_run_id}</a> (depth ${r.depth})</dd>` : ""}
      ${related.subs.length ? `<dt>sub-runs</dt><dd id="subruns">${related.subs.map((c) => `<a href="#/run/${c.run_id}">run ${c.run_id}</a> ${esc(c.job)} ${status(c.status)}`).join("<br>")}</dd>` : ""}
      ${r.prompt != null ? `<dt>prompt</dt><dd><pre class="prompt">${esc(r.prompt)}</pre></dd>` : ""}
      ${(r.env_names || []).length ? `<dt>environment</dt><dd>${r.env_names.map((n) => `<code>${esc(n)}</code>`).join(", ")} <span class="muted">(values not shown)</span></dd>` : ""}
      ${r.metadata ? `<dt>metadata</dt><dd><code>${esc(JSON.stringify(r.metadata))}</code></dd>` : ""}
      <dt>slot</dt><dd>${when(r.scheduled_for)}</dd><dt>started</dt><dd>${when(r.started_at)}</dd>
      <dt>ended</dt><dd>${when(r.ended_at)}</dd><dt>duration</dt><dd>${dur(r.duration_ms)}</dd>
      <dt>exit</dt><dd>${r.exit_code ?? (r.signal ? "signal " + r.signal : "-")}</dd>
      ${r.error ? `<dt>error</dt><dd class="error">${esc(r.error)}</dd>` : ""}
      ${r.agent ? `<dt>agent</dt><dd>${esc(r.agent)} ${esc(r.model || "")} (${esc(r.scope || "")}, role ${esc(r.role || "-")})</dd>` : ""}
      ${r.input_tokens != null ? `<dt>usage</dt><dd>${r.input_tokens} in, ${r.output_tokens} out, ${r.num_turns ?? "-"} turns, ${r.tool_calls ?? "-"} tool calls, cost ${r.cost ?? "-"}${r.cost_usd != null ? `, $${r.cost_usd}` : ""}</dd>` : ""}
      ${(r.attempts || []).length ? `<dt>agents tried</dt><dd>${r.attempts.map((a) => `${esc(a.agent)}: ${esc(a.outcome)}${a.reason ? " (" + esc(a.reason) + ")" : ""}`).join("<br>")}</dd>` : ""}
      ${r.workspace ? `<dt>workspace</dt><dd>branch <code>${esc(r.workspace.branch)}</code> from ${esc(r.workspace.base)}
        (${r.workspace.files_changed} files, +${r.workspace.insertions} −${r.workspace.deletions})${r.workspace.commit ? `, commit <code>${esc(String(r.workspace.commit).slice(0, 12))}</code>` : ""}${r.workspace.pushed ? ", pushed" : ""}${r.workspace.kept ? ", kept at <code>" + esc(r.workspace.path) + "</code>" : ""}${r.workspace.push_failure ? `, <span class="error">push failed: ${esc(r.workspace.push_failure)}</span>` : ""}</dd>` : ""}
      ${(r.hooks || []).length ? `<dt>hooks</dt><dd>${r.hooks.map((h) => `${esc(h.hook)}: ${h.ok ? "ok" : `<span class="error">${esc(h.error || "failed")}</span>`}`).join("<br>")}</dd>` : ""}
      </dl>
      ${(r.changes || []).length ? `<h2>Changes</h2><table class="changes cards"><thead><tr><th scope="col">File</th><th scope="col">Status</th><th scope="col">Added</th><th scope="col">Removed</th></tr></thead><tbody>
        ${r.changes.map((c) => `<tr><td data-label="File" class="wrap">${c.from ? esc(c.from) + " → " : ""}${esc(c.path)}</td><td data-label="Status">${esc(c.status)}</td><td data-label="Added">${c.insertions ?? "bin"}</td><td data-label="Removed">${c.deletions ?? "bin"}</td></tr>`).join("")}</tbody></table>` : ""}`;
    if (active) $(`#run button[data-act="${active}"]`)?.focus();
    const tl = $("#timeline");
    const items = r.events.map((e) => {
      const d = e.detail || {};
      // A cancel request names its actor (`api:SUBJECT`, `cli`) and the user behind it.
      const by = e.by ? e.by + (e.subject ? ":" + e.subject : "")
        : typeof d.actor === "string" ? d.actor + (d.by?.user ? ` (user ${d.by.user})` : "") : "";
      const why = e.reason || d.reason;
      return `<li><span class="muted">${when(e.at)}</span> ${esc(e.kind)}
      ${e.to ? `${e.from ? status(e.from) + " → " : ""}${status(e.to)}` : d.status ? status(d.status) : d.want ? "to " + status(d.want) : ""}
      ${by ? `<span class="muted">by ${esc(by)}</span>` : ""}
      ${why ? `<span class="muted wrap">${esc(why)}</span>` : ""}</li>`;
    }).join("");
    if (tl.dataset.html !== items) { tl.innerHTML = items; tl.dataset.html = items; }
  };
  const loadRelated = async () => {
    const subs = (await api(`/runs?parent=${id}&limit=100`)).body.runs;
    let retries = [];
    if (r.attempt <= 1 && ["failed", "timed_out"].includes(r.status)) {
      retries = (await api(`/runs?job=${enc(r.job)}&limit=100`)).body.runs.filter((x) => x.retry_of === id).reverse();
    }
    related = { subs, retries };
  };
  await loadRelated();
  draw();
  $("#run").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]"); if (!b) return;
    const out = await act(b, `/runs/${id}/${b.dataset.act}`);
    if (out && b.dataset.act === "rerun") { location.hash = `#/run/${out.run_id}`; return; }
    reload();
  });
  const log = logView($("#logbox"), id, () => vocab.ended.includes(r.status));
  ctx.stop(() => log.stop());
  // Debounced: a burst of events is one reload, of the run and, when they may have
  // changed, its sub-runs and retries.
  let relatedToo = false;
  const reload = debounce(async () => {
    try {
      r = (await api(`/runs/${id}`)).body;
      if (relatedToo) { relatedToo = false; await loadRelated(); }
      draw();
    } catch (e) { flash(e.message); }
  }, 200);
  const listed = (rid) => related.subs.some((c) => c.run_id === rid) || related.retries.some((c) => c.run_id === rid);
  ctx.stop(onEvent((e) => {
    const d = e.detail || {};
    if (e.kind === "reconnected") { relatedToo = true; reload(); return; }
    if (e.run_id === id) { reload(); return; }
    if (listed(e.run_id) || d.parent_run_id === id || d.retry_of === id) { relatedToo = true; reload(); }
  }));
  ctx.stop(reload.cancel);
}

// ---- The log: whole, paged, searchable, followed across reconnects ----
// Lines are kept in memory and only those on screen are in the DOM (fixed line height),
// so a log of any size renders in constant time; bytes come in pages of the API's slices.
const LOG_PAGE = 1 << 20;
const LOG_WHOLE = 8 << 20;
const LINE_PX = 18;
const ANSI = /\x1b\[([0-9;]*)m/g;
function ansi(line, mark) {
  let out = "", at = 0, cls = [], open = false;
  const text = (s) => {
    if (!mark) return esc(s);
    const lower = s.toLowerCase();
    let o = "", i = 0, j;
    while ((j = lower.indexOf(mark, i)) >= 0) { o += esc(s.slice(i, j)) + "<mark>" + esc(s.slice(j, j + mark.length)) + "</mark>"; i = j + mark.length; }
    return o + esc(s.slice(i));
  };
  line = line.replace(/\x1b\[[0-9;?]*[A-Za-ln-z]/g, "");
  for (const m of line.matchAll(ANSI)) {
    out += text(line.slice(at, m.index));
    at = m.index + m[0].length;
    for (const c of (m[1] || "0").split(";").map(Number)) {
      if (c === 0) cls = [];
      else if (c === 1) cls.push("a-b");
      else if ((c >= 30 && c <= 37) || (c >= 90 && c <= 97)) cls = cls.filter((x) => !x.startsWith("a-f")).concat("a-f" + c);
      else if (c === 39) cls = cls.filter((x) => !x.startsWith("a-f"));
    }
    if (open) out += "</span>";
    open = cls.length > 0;
    if (open) out += `<span class="${cls.join(" ")}">`;
  }
  out += text(line.slice(at));
  return open ? out + "</span>" : out;
}

function logView(box, id, runEnded) {
  box.innerHTML = `<div class="log-tools">
      <label class="check"><input type="checkbox" id="log-follow" checked> Follow</label>
      <form id="log-search" role="search" aria-label="Search the log"><label for="log-q" class="sr">Search the log</label>
        <input id="log-q" type="search" placeholder="Search the log"><button type="submit">Find</button>
        <button type="button" id="log-prev" aria-label="Previous match">↑</button><button type="button" id="log-next" aria-label="Next match">↓</button>
        <span id="log-hits" aria-live="polite"></span></form>
      <button type="button" id="log-download">Download</button>
      <span id="log-state" class="muted" role="status"></span></div>
    <p id="log-earlier" hidden><button type="button" id="log-more">Load earlier output</button> <span class="muted" id="log-earlier-size"></span></p>
    <div class="log-view" id="log" tabindex="0" role="region" aria-label="Log lines"><div class="log-space"><div class="log-lines" aria-live="off"></div></div></div>`;
  const view = $("#log", box), space = $(".log-space", box), linesEl = $(".log-lines", box);
  const st = { lines: [], partial: "", start: 0, pos: 0, ended: false, stop: new AbortController(), mark: "", hits: [], hit: -1, frame: 0, complete: false };
  const all = () => (st.partial ? st.lines.concat(st.partial) : st.lines);
  const paint = () => {
    st.frame = 0;
    const n = st.lines.length + (st.partial ? 1 : 0);
    space.style.height = n * LINE_PX + "px";
    if ($("#log-follow", box).checked) view.scrollTop = view.scrollHeight;
    const from = Math.max(0, Math.floor(view.scrollTop / LINE_PX) - 20);
    const to = Math.min(n, from + Math.ceil((view.clientHeight || 450) / LINE_PX) + 40);
    let html = "";
    for (let i = from; i < to; i++) {
      const line = i < st.lines.length ? st.lines[i] : st.partial;
      html += `<div${st.hits[st.hit] === i ? ' class="hit"' : ""}>${ansi(line, st.mark) || " "}</div>`;
    }
    linesEl.style.transform = `translateY(${from * LINE_PX}px)`;
    linesEl.innerHTML = html;
    view.dataset.lines = String(n);
  };
  const later = () => { if (!st.frame) st.frame = requestAnimationFrame(paint); };
  view.addEventListener("scroll", () => {
    const atEnd = view.scrollTop + view.clientHeight >= view.scrollHeight - LINE_PX;
    if (!atEnd && $("#log-follow", box).checked) $("#log-follow", box).checked = false;
    later();
  });
  $("#log-follow", box).addEventListener("change", later);
  // Output is split into lines a slice at a time, yielding between slices, so no task
  // of the page runs long however fast the output comes.
  const decoder = new TextDecoder();
  const queue = [];
  let pumping = null;
  const pump = async () => {
    await null; // `pumping` is set before this returns
    while (queue.length) {
      const t = performance.now();
      while (queue.length && performance.now() - t < 25) {
        let b = queue.shift();
        if (b.length > 131072) { queue.unshift(b.subarray(131072)); b = b.subarray(0, 131072); }
        const parts = (st.partial + decoder.decode(b, { stream: true })).split("\n");
        st.partial = parts.pop();
        for (const l of parts) st.lines.push(l);
      }
      later();
      if (queue.length) await new Promise((ok) => setTimeout(ok, 0));
    }
    pumping = null;
  };
  const take = (bytes) => {
    st.pos += bytes.length;
    queue.push(bytes);
    if (!pumping) pumping = pump();
  };
  const say = (s) => { $("#log-state", box).textContent = s; };
  const earlier = () => {
    $("#log-earlier", box).hidden = st.start === 0;
    $("#log-earlier-size", box).textContent = st.start ? `${(st.start / 1048576).toFixed(1)} MB of earlier output not loaded` : "";
  };
  // Bytes [from, to) of the log, in the API's slices.
  const slice = async (from, to) => {
    const parts = [];
    while (from < to) {
      const r = await fetch(`/api/v1/runs/${id}/log?offset=${from}`, { headers: { Authorization: "Bearer " + app.token }, signal: st.stop.signal });
      if (!r.ok) throw new ApiError((await r.json().catch(() => null))?.error?.message || r.statusText, r.status);
      const b = new Uint8Array(await r.arrayBuffer());
      const next = Number(r.headers.get("x-log-next"));
      if (!b.length) break;
      parts.push(b.subarray(0, Math.min(b.length, to - from)));
      from = next > from ? next : from + b.length;
    }
    return parts;
  };
  $("#log-more", box).addEventListener("click", async () => {
    const to = st.start, from = Math.max(0, to - LOG_PAGE);
    try {
      const bytes = new Uint8Array(await new Blob(await slice(from, to)).arrayBuffer());
      // `to` is a line's start; `from` may be inside one, which is then left for later.
      let cut = 0;
      if (from > 0) { const nl = bytes.indexOf(10); cut = nl >= 0 ? nl + 1 : bytes.length; }
      const lines = new TextDecoder().decode(bytes.subarray(cut)).split("\n");
      lines.pop();
      const added = lines.length;
      st.lines = lines.concat(st.lines);
      st.start = from + cut;
      view.scrollTop += added * LINE_PX;
      st.hits = []; earlier(); paint();
    } catch (e) { if (!st.stop.signal.aborted) flash(e.message); }
  });
  $("#log-download", box).addEventListener("click", async (e) => {
    const b = e.target;
    b.disabled = true;
    try {
      const end = st.pos;
      const parts = st.start === 0 && st.ended ? [all().join("\n") + (st.partial ? "" : "\n")] : await slice(0, end);
      const url = URL.createObjectURL(new Blob(parts, { type: "text/plain" }));
      const a = document.createElement("a");
      a.href = url; a.download = `jobctl-run-${id}.log`;
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (x) { if (!st.stop.signal.aborted) flash(x.message); } finally { b.disabled = false; }
  });
  const find = (step) => {
    const q = $("#log-q", box).value.toLowerCase();
    if (q !== st.mark) {
      st.mark = q; st.hits = []; st.hit = -1;
      if (q) all().forEach((l, i) => { if (l.toLowerCase().includes(q)) st.hits.push(i); });
    }
    if (st.hits.length) {
      st.hit = (st.hit + step + st.hits.length) % st.hits.length;
      $("#log-follow", box).checked = false;
      view.scrollTop = Math.max(0, st.hits[st.hit] * LINE_PX - view.clientHeight / 2);
    }
    $("#log-hits", box).textContent = q ? (st.hits.length ? `${st.hit + 1} of ${st.hits.length}` : "no match") : "";
    paint();
  };
  $("#log-search", box).addEventListener("submit", (e) => { e.preventDefault(); find(1); });
  $("#log-next", box).addEventListener("click", () => find(1));
  $("#log-prev", box).addEventListener("click", () => find(-1));
  // Open: how long it is; all of it when it is not too long, else its last page (from a
  // line's start) with earlier pages on demand; then follow from where it got to, again
  // after a lost connection or a server restart, until the run has ended.
  (async () => {
    const sig = st.stop.signal;
    let size = 0;
    for (let tries = 0; !sig.aborted; tries++) {
      try {
        const r = await fetch(`/api/v1/runs/${id}/log?tail=0`, { headers: { Authorization: "Bearer " + app.token }, signal: sig });
        if (r.status === 404) { say("No output was stored."); st.ended = true; return; }
        if (!r.ok) throw new Error(String(r.status));
        size = Number(r.headers.get("x-log-next")) || 0;
        break;
      } catch (e) {
        if (sig.aborted) return;
        say("Reconnecting…");
        await new Promise((ok) => setTimeout(ok, Math.min(500 * 2 ** tries, 5000)));
      }
    }
    if (size > LOG_WHOLE) {
      const from = size - LOG_PAGE;
      const head = new Uint8Array(await new Blob(await slice(from, from + 4096)).arrayBuffer());
      const nl = head.indexOf(10);
      st.start = st.pos = from + (nl >= 0 ? nl + 1 : 0);
      earlier();
    }
    for (let tries = 0; !sig.aborted; tries++) {
      try {
        say(runEnded() ? "" : "Following");
        const r = await fetch(`/api/v1/runs/${id}/log?offset=${st.pos}&follow=true`, { headers: { Authorization: "Bearer " + app.token }, signal: sig });
        if (r.status === 401) return;
        if (!r.ok || !r.body) throw new Error(String(r.status));
        tries = 0;
        const reader = r.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          take(value);
        }
        // The answer ends when the run does, or when the server stops: which one?
        const run = (await api(`/runs/${id}`, { signal: sig })).body;
        if (app.vocab.ended.includes(run.status)) {
          await pumping;
          st.ended = true;
          say("");
          if (st.partial) { st.lines.push(st.partial); st.partial = ""; later(); }
          return;
        }
      } catch (e) {
        if (sig.aborted) return;
      }
      say("Reconnecting…");
      await new Promise((ok) => setTimeout(ok, Math.min(500 * 2 ** tries, 5000)));
    }
  })();
  return { stop: () => { st.stop.abort(); cancelAnimationFrame(st.frame); }, state: st };
}

// ---- Agents ----
async function agentsView(ctx) {
  ctx.title("Agents");
  $("#main").innerHTML = `<h1 tabindex="-1">Agents</h1><table id="agents" class="cards"><thead><tr><th scope="col">Agent</th><th scope="col">Scope</th>
    <th scope="col">State</th><th scope="col">Reason</th><th scope="col">Used</th>${canWrite() ? `<th scope="col"><span class="sr">Actions</span></th>` : ""}</tr></thead><tbody></tbody></table>`;
  const tbody = $("#agents tbody");
  const load = async () => {
    const { body: rows } = await api("/agents");
    if (!tbody.isConnected) return;
    patchRows(tbody, rows, (a) => `${a.agent} ${a.scope}`, (a) => {
      const label = `${a.agent} ${a.scope}`;
      return {
        attrs: { agent: a.agent, scope: a.scope },
        html: `<td data-label="Agent">${esc(a.agent)}</td><td data-label="Scope">${esc(a.scope)}</td>
        <td data-label="State">${a.enabled ? `<span class="status s-succeeded">enabled</span>` : `<span class="status s-failed">disabled</span>`}</td>
        <td data-label="Reason" class="wrap muted">${esc(a.reason || "")}</td>
        <td data-label="Used"><meter min="0" max="${Math.max(a.budget, a.used, 1)}" value="${a.used}" ${a.budget > 0 ? `high="${a.budget * 0.8}" optimum="0"` : ""} aria-label="${esc(label)}: ${a.used} of ${a.budget} used"></meter> ${a.used} / ${a.budget}</td>
        ${canWrite() ? `<td class="actions">${a.enabled ? `<label class="sr" for="why-${esc(a.agent)}-${esc(a.scope)}">Reason to disable ${esc(label)}</label>
          <input class="reason" id="why-${esc(a.agent)}-${esc(a.scope)}" placeholder="reason (optional)">` : ""}
          <button type="button" data-act="${a.enabled ? "disable" : "enable"}">${a.enabled ? "Disable" : "Enable"}<span class="sr"> ${esc(label)}</span></button></td>` : ""}`,
      };
    });
  };
  $("#agents").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-act]"); if (!b) return;
    const tr = b.closest("tr");
    const body = { scope: tr.dataset.scope };
    const reason = $("input.reason", tr)?.value.trim();
    if (reason) body.reason = reason;
    await act(b, `/agents/${enc(tr.dataset.agent)}/${b.dataset.act}`, body);
    load().catch((x) => flash(x.message));
  });
  await load();
  const live = debounce(() => load().catch((x) => flash(x.message)));
  ctx.stop(onEvent(live));
  ctx.stop(live.cancel);
}

// ---- Tree ----
// Runs page by page; a sub-run's ancestors are fetched up to its root, and each run known
// to have sub-runs has them fetched (`?parent=`), so a tree is whole at any depth.
async function treeView(ctx) {
  ctx.title("Run tree");
  $("#main").innerHTML = `<h1 tabindex="-1">Run tree</h1><div class="card tree" id="tree"></div><p><button type="button" id="more" hidden>Older runs</button></p>`;
  const byId = new Map(), kids = new Map(), asked = new Set();
  const roots = new Set();
  let cursor = null, done = false;
  const add = (r) => {
    byId.set(r.run_id, r);
    if (r.parent_run_id == null) { roots.add(r.run_id); return; }
    if (!kids.has(r.parent_run_id)) kids.set(r.parent_run_id, new Set());
    kids.get(r.parent_run_id).add(r.run_id);
  };
  const complete = async () => {
    for (let guard = 0; guard < 200; guard++) {
      const missing = [...kids.keys()].find((p) => !byId.has(p) && !asked.has("run" + p));
      if (missing != null) {
        asked.add("run" + missing);
        try { add((await api(`/runs/${missing}`)).body); } catch { roots.add(missing); }
        continue;
      }
      const open = [...kids.keys()].find((p) => !asked.has("kids" + p));
      if (open == null) break;
      asked.add("kids" + open);
      for (const c of (await api(`/runs?parent=${open}&limit=500`)).body.runs) add(c);
    }
  };
  const draw = () => {
    const el = $("#tree");
    if (!el) return;
    const node = (id) => {
      const r = byId.get(id);
      const k = [...(kids.get(id) || [])].sort((a, b) => a - b);
      return `<li><a href="#/run/${id}">run ${id}</a> ${r ? `${esc(r.job)} ${status(r.status)}` : ""}
        ${k.length ? `<ul>${k.map(node).join("")}</ul>` : ""}</li>`;
    };
    const top = [...roots].filter((id) => !byId.get(id)?.parent_run_id).sort((a, b) => b - a);
    const html = top.length ? `<ul>${top.map(node).join("")}</ul>` : `<p class="muted">No runs yet.</p>`;
    if (el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; }
    $("#more").hidden = done;
  };
  const older = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (cursor) q.set("before", cursor);
    const { body } = await api("/runs?" + q);
    for (const r of body.runs) add(r);
    cursor = body.next; done = !cursor;
    await complete();
    draw();
  };
  $("#more").addEventListener("click", () => older().catch((e) => flash(e.message)));
  await older();
  const live = debounce(async () => {
    try {
      for (const r of (await api("/runs?limit=100")).body.runs) add(r);
      for (const p of kids.keys()) asked.delete("kids" + p);
      await complete();
      draw();
    } catch (e) { flash(e.message); }
  }, 500);
  ctx.stop(onEvent(live));
  ctx.stop(live.cancel);
}

$("#signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", render);
if (app.token) startSession();
render();
