// The reviewer console and the dashboard: one page, every action through the API (so it is audited
// like any other call). The reviewer's key lives in a JavaScript variable only: never in
// localStorage, sessionStorage or a cookie; closing or reloading the tab signs out.
import { h } from "./kycguard-capture.js";
import { drawBars, drawLines } from "./charts.js";

let apiKey = null;
let reasons = [];
const app = document.getElementById("app");
const toast = document.getElementById("toast");
const signOut = document.getElementById("sign-out");
let queueCursor = null;
let queueItems = [];
let selected = 0;
let current = null; // the case on screen

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${apiKey}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "NETWORK", "the server cannot be reached");
  }
  if (response.headers.get("content-type")?.startsWith("image/")) return response.blob();
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const e = data.error || {};
    console.warn(`kycguard: ${method} ${path} -> ${response.status} ${e.code}: ${e.message}`);
    if (response.status === 401) {
      apiKey = null;
      render();
    }
    throw new ApiError(response.status, e.code || `HTTP_${response.status}`, e.message);
  }
  return data;
}

function say(text, bad = false) {
  toast.textContent = text;
  toast.className = bad ? "bad" : "";
}

function age(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

const reasonLabel = (code) => reasons.find((r) => r.code === code)?.label || code;

// -- routing ------------------------------------------------------------------------------------------

function route() {
  if (location.pathname.replace(/\/$/, "").endsWith("/dashboard")) return ["dashboard"];
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return parts.length ? parts : ["queue"];
}

function go(url) {
  history.pushState(null, "", url);
  render();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  go(link.getAttribute("href"));
});
window.addEventListener("popstate", () => render());
window.addEventListener("hashchange", () => render());
signOut.addEventListener("click", () => {
  apiKey = null;
  render();
});

async function render() {
  signOut.hidden = !apiKey;
  for (const a of document.querySelectorAll("header a[data-link]")) {
    const here = route()[0];
    const target = a.getAttribute("href").includes("dashboard") ? "dashboard" : a.getAttribute("href").includes("alerts") ? "alerts" : "queue";
    a.toggleAttribute("aria-current", target === here || (target === "queue" && here === "case"));
  }
  if (!apiKey) return signIn();
  const [view, id] = route();
  try {
    if (view === "case" && id) await showCase(id);
    else if (view === "alerts") await showAlerts();
    else if (view === "dashboard") await showDashboard();
    else await showQueue();
  } catch (err) {
    if (apiKey) showError(err);
  }
}

function showError(err) {
  app.replaceChildren(h("div", { class: "panel error", role: "alert" }, h("h2", {}, "Something went wrong"), h("p", {}, `${err.code || ""} ${err.message || err}`)));
}

// -- sign in -------------------------------------------------------------------------------------------

function signIn(message) {
  const input = h("input", { type: "password", id: "key", name: "key", autocomplete: "off", required: true, spellcheck: "false" });
  const error = h("p", { class: "bad", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "panel signin" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste your reviewer API key. It is kept in this tab's memory only: reloading or closing the tab signs you out."),
    h("label", { for: "key" }, "API key"),
    input,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    apiKey = input.value.trim();
    input.value = "";
    try {
      reasons = (await api("GET", "/api/v1/reviews/reasons")).reasons;
    } catch (err) {
      const text = err.status === 403 ? "This key may not review cases (it needs the reviewer role)." : err.status === 401 ? "This key is not valid." : `Sign-in failed: ${err.message}`;
      apiKey = null;
      return signIn(text);
    }
    render();
  });
  app.replaceChildren(form);
  input.focus();
}

// -- the queue -----------------------------------------------------------------------------------------

async function showQueue(append = false) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const status = params.get("status") ?? "open";
  const kind = params.get("kind") ?? "";
  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  if (kind) query.set("kind", kind);
  if (append && queueCursor) query.set("cursor", queueCursor);
  const page = await api("GET", `/api/v1/reviews?${query}`);
  queueItems = append ? [...queueItems, ...page.items] : page.items;
  queueCursor = page.next_cursor;
  if (!append) selected = 0;

  const filter = (name, value, options) => {
    const select = h("select", { id: `f-${name}`, name }, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
    select.addEventListener("change", () => {
      const next = new URLSearchParams(location.hash.split("?")[1] || "");
      next.set(name, select.value);
      go(`/console#/queue?${next}`);
    });
    return h("label", { for: `f-${name}` }, `${name[0].toUpperCase()}${name.slice(1)} `, select);
  };
  const rows = queueItems.map((item, i) =>
    h(
      "tr",
      { "data-id": item.id, class: i === selected ? "selected" : "", "aria-selected": i === selected ? "true" : "false" },
      h("td", {}, h("span", { class: `risk risk-${item.risk_score >= 70 ? "high" : item.risk_score >= 40 ? "mid" : "low"}` }, Math.round(item.risk_score))),
      h("td", {}, h("a", { href: `/console#/case/${item.id}`, "data-link": true }, item.user_id || item.case_id)),
      h("td", {}, item.kind),
      h("td", {}, item.reasons.slice(0, 3).join(", ") + (item.reasons.length > 3 ? ` +${item.reasons.length - 3}` : "")),
      h("td", {}, age(item.created_at)),
      h("td", {}, item.status + (item.claimed_by ? ` (${item.claimed_by})` : "")),
    ),
  );
  const more = queueCursor ? h("button", { type: "button", onclick: () => showQueue(true) }, "Load more") : null;
  app.replaceChildren(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, "Review queue"),
      h("p", { class: "muted" }, "Riskiest first, then oldest. Keys: j / k move, Enter opens, ? shows all shortcuts."),
      h("div", { class: "filters" },
        filter("status", status, [["open", "Open"], ["claimed", "Claimed"], ["decided", "Decided"], ["", "All"]]),
        filter("kind", kind, [["", "All"], ["verification", "Verification"], ["session", "Video session"]]),
      ),
      queueItems.length
        ? h("table", { class: "queue" },
            h("caption", { class: "visually-hidden" }, "Cases to review"),
            h("thead", {}, h("tr", {}, ["Risk", "User", "Kind", "Reasons", "Age", "Status"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rows))
        : h("p", { class: "empty" }, "No cases here."),
      more,
    ),
  );
}

// -- a case --------------------------------------------------------------------------------------------

async function showCase(id) {
  const item = await api("GET", `/api/v1/reviews/${encodeURIComponent(id)}`);
  current = item;
  const ev = item.evidence || {};
  const result = ev.result || {};
  const mine = item.status === "claimed";
  const claim = h("button", { type: "button", id: "claim", class: mine ? "" : "primary" }, mine ? "Release (u)" : "Claim (c)");
  claim.addEventListener("click", () => (mine ? release() : claimCase()));
  const decided = item.status === "decided";

  app.replaceChildren(
    h(
      "section",
      { class: "panel case", "data-case": item.id, "data-status": item.status },
      h("p", {}, h("a", { href: "/console#/queue", "data-link": true }, "← Queue (q)")),
      h("h1", {}, `${item.user_id || item.case_id}`),
      h("p", { class: "meta" },
        `${item.kind} ${item.case_id} · risk ${Math.round(item.risk_score)} · `,
        h("strong", { id: "case-status" }, item.status),
        item.claimed_by ? ` · claimed by ${item.claimed_by} until ${new Date(item.claim_expires_at).toLocaleTimeString()}` : "",
        item.decision ? ` · decision: ${item.decision.decision || JSON.stringify(item.decision)}` : "",
      ),
      decided ? null : h("div", { class: "actions" }, claim),
      imagesPanel(ev.images || []),
      resultsPanel(result, item),
      timelinePanel(ev.timeline || []),
      await alertsPanel(item),
      decided ? null : decisionForm(item),
    ),
  );
  app.focus();
}

function imagesPanel(images) {
  const order = (k) => (k.startsWith("document") ? 0 : k === "selfie" ? 1 : 2);
  const shown = [...images].sort((a, b) => order(a.kind) - order(b.kind) || a.kind.localeCompare(b.kind));
  const grid = h("div", { class: "images" });
  for (const image of shown) {
    const img = h("img", { alt: image.kind.replaceAll("_", " "), "data-kind": image.kind });
    let zoom = 1;
    let turn = 0;
    const apply = () => (img.style.transform = `scale(${zoom}) rotate(${turn}deg)`);
    const tools = h("div", { class: "tools" },
      h("button", { type: "button", "aria-label": `Zoom in ${image.kind}`, onclick: () => { zoom = Math.min(4, zoom * 1.25); apply(); } }, "+"),
      h("button", { type: "button", "aria-label": `Zoom out ${image.kind}`, onclick: () => { zoom = Math.max(0.5, zoom / 1.25); apply(); } }, "−"),
      h("button", { type: "button", "aria-label": `Rotate ${image.kind}`, onclick: () => { turn = (turn + 90) % 360; apply(); } }, "⟳"),
    );
    grid.append(h("figure", {}, h("div", { class: "frame" }, img), h("figcaption", {}, image.kind.replaceAll("_", " "), tools)));
    api("GET", image.url).then((blob) => (img.src = URL.createObjectURL(blob))).catch(() => (img.alt = `${image.kind}: could not load`));
  }
  return h("div", {}, h("h2", {}, "Document and face"), images.length ? grid : h("p", { class: "muted" }, "No images are kept for this case (erased or past retention)."));
}

function resultsPanel(result, item) {
  const rows = [];
  for (const [key, value] of Object.entries(result)) {
    if (!value || typeof value !== "object" || Array.isArray(value) || key === "scores" || key === "thresholds") continue;
    const flag = ["passed", "is_match", "is_live"].find((k) => typeof value[k] === "boolean");
    const verdict = value.verdict || (flag ? (value[flag] ? "passed" : "failed") : value.status || "");
    const score = ["score", "confidence", "similarity", "liveness_score", "deepfake_score"].map((k) => value[k]).find((v) => typeof v === "number");
    rows.push(h("tr", {}, h("th", { scope: "row" }, key.replaceAll("_", " ")), h("td", { class: verdict === "failed" ? "bad" : "" }, verdict), h("td", {}, score === undefined ? "" : String(Math.round(score * 100) / 100)), h("td", {}, checkWhy(value))));
  }
  const reasonsList = (result.reasons || item.reasons || []).map((r) => h("li", {}, h("code", {}, r)));
  const warnings = (result.warnings || []).map((w) => h("li", {}, w));
  return h(
    "div",
    {},
    h("h2", {}, "Results"),
    h("p", {}, `Automatic decision: `, h("strong", {}, result.status || item.original_status || "—"), result.recommendation ? ` — ${result.recommendation}` : ""),
    rows.length ? h("table", { class: "checks" }, h("thead", {}, h("tr", {}, ["Check", "Verdict", "Score", "Why"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)) : null,
    h("h3", {}, "Reasons"),
    reasonsList.length ? h("ul", { class: "reasons" }, reasonsList) : h("p", { class: "muted" }, "None."),
    h("h3", {}, "Warnings"),
    warnings.length ? h("ul", {}, warnings) : h("p", { class: "muted" }, "None."),
  );
}

/** The few words a reviewer reads next to a check: its own explanation, else its reasons and
 * warnings, else the measured value against its threshold. */
function checkWhy(v) {
  if (v.explanation || v.message) return v.explanation || v.message;
  const words = [...(v.reasons || []), ...(v.warnings || [])];
  if (words.length) return words.join("; ");
  if (typeof v.distance === "number") return `distance ${v.distance} (match below ${v.threshold})`;
  if (v.selfie || v.id_document) {
    return ["selfie", "id_document"].filter((k) => v[k]).map((k) => `${k.replace("_", " ")} ${v[k].score ?? ""}`).join(", ");
  }
  if (typeof v.threshold === "number") return `threshold ${v.threshold}`;
  return "";
}

function timelinePanel(timeline) {
  if (!timeline.length) return null;
  return h("div", {}, h("h2", {}, "Challenge timeline"), h("ol", { class: "timeline" }, timeline.map((t) => h("li", { class: t.status }, `${t.challenge}: ${t.status}`, t.attempts ? ` after ${t.attempts} attempt(s)` : "", typeof t.seconds === "number" ? `, ${t.seconds.toFixed(1)} s` : ""))));
}

async function alertsPanel(item) {
  let alerts = item.evidence?.alerts || [];
  try {
    const all = await api("GET", "/api/v1/alerts?limit=200");
    alerts = [...alerts, ...all.alerts.filter((a) => (a.cases || []).includes(item.case_id) || (item.user_id && a.subject === item.user_id))];
  } catch {
    /* alerts are optional evidence: a key without access to them still reviews */
  }
  return h("div", {}, h("h2", {}, "Alerts"), alerts.length ? h("ul", { class: "alerts" }, alerts.map((a) => h("li", { class: `sev-${a.severity}` }, `${a.severity}: ${a.message} (${a.status})`))) : h("p", { class: "muted" }, "No alerts for this case."));
}

function decisionForm(item) {
  const choice = (name, value, label, key) =>
    h("label", {}, h("input", { type: "radio", name, value, required: name === "decision" }), ` ${label}`, key ? h("kbd", {}, key) : "");
  const reason = h("select", { id: "reason", name: "reason" }, h("option", { value: "" }, "— choose a reason —"), reasons.map((r) => h("option", { value: r.code }, r.label)));
  const notes = h("textarea", { id: "notes", name: "notes", rows: "3", maxlength: "4000" });
  const error = h("p", { class: "bad", role: "alert" });
  const form = h(
    "form",
    { class: "decide", id: "decide" },
    h("h2", {}, "Decision"),
    h("fieldset", {}, h("legend", {}, "Decision"), choice("decision", "approve", "Approve", "a"), choice("decision", "reject", "Reject", "r"), choice("decision", "request_resubmission", "Request resubmission", "s")),
    h("p", {}, h("label", { for: "reason" }, "Reason "), reason),
    h("fieldset", {}, h("legend", {}, "Label (for the error rates)"), choice("label", "", "No label"), choice("label", "fraud", "Fraud", "f"), choice("label", "genuine", "Genuine", "g")),
    h("p", {}, h("label", { for: "notes" }, "Notes"), notes),
    h("button", { type: "submit", class: "primary", id: "submit-decision" }, "Submit decision (Ctrl+Enter)"),
    error,
  );
  form.querySelector('input[name=label][value=""]').checked = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const decision = data.get("decision");
    if (!decision) return (error.textContent = "Choose approve, reject or request resubmission.");
    if (!data.get("reason")) return (error.textContent = "Choose a reason.");
    try {
      if (item.status !== "claimed") await api("POST", `/api/v1/reviews/${item.id}/claim`);
      await api("POST", `/api/v1/reviews/${item.id}/decision`, { decision, reason: data.get("reason"), notes: data.get("notes") || "" });
      const label = data.get("label");
      if (label) {
        const path = item.kind === "session" ? `/api/v1/sessions/${item.case_id}/feedback` : `/api/v1/verify/${item.case_id}/feedback`;
        await api("POST", path, { was_fraud: label === "fraud", notes: data.get("notes") || "" });
      }
    } catch (err) {
      error.textContent = `${err.code}: ${err.message}`;
      return;
    }
    say(`Decided: ${decision} (${reasonLabel(data.get("reason"))}).`);
    await nextCase(item.id);
  });
  return form;
}

async function claimCase() {
  try {
    await api("POST", `/api/v1/reviews/${current.id}/claim`);
    say("Claimed.");
  } catch (err) {
    say(`${err.code}: ${err.message}`, true);
  }
  render();
}

async function release() {
  try {
    await api("POST", `/api/v1/reviews/${current.id}/release`);
    say("Released.");
  } catch (err) {
    say(`${err.code}: ${err.message}`, true);
  }
  render();
}

async function nextCase(after) {
  const page = await api("GET", "/api/v1/reviews?status=open&limit=5");
  const next = page.items.find((i) => i.id !== after);
  go(next ? `/console#/case/${next.id}` : "/console#/queue");
}

// -- alerts --------------------------------------------------------------------------------------------

async function showAlerts() {
  // unresolved alerts, most severe first (the seed's route); acknowledged ones stay until resolved
  const data = await api("GET", "/api/v1/alerts/active");
  const rows = data.alerts.map((a) => {
    const ack = a.status === "active"
      ? h("button", { type: "button", "data-alert": a.id }, "Acknowledge")
      : h("span", { class: "muted" }, `acknowledged by ${a.acknowledged_by}`);
    ack.addEventListener("click", async () => {
      try {
        await api("POST", `/api/v1/alerts/${a.id}/acknowledge`);
        say("Acknowledged.");
        showAlerts();
      } catch (err) {
        say(`${err.code}: ${err.message}`, true);
      }
    });
    return h("tr", { "data-id": a.id }, h("td", {}, h("span", { class: `sev sev-${a.severity}` }, a.severity)), h("td", {}, a.type), h("td", {}, a.message), h("td", {}, String(a.count)), h("td", {}, age(a.last_seen)), h("td", {}, ack));
  });
  app.replaceChildren(
    h("section", { class: "panel" }, h("h1", {}, "Unresolved alerts"),
      rows.length ? h("table", { class: "queue" }, h("thead", {}, h("tr", {}, ["Severity", "Type", "Message", "Count", "Last seen", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows)) : h("p", { class: "empty" }, "No active alerts.")),
  );
}

// -- dashboard -----------------------------------------------------------------------------------------

const RANGES = { "24h": [24 * 3600e3, "hour"], "7d": [7 * 86400e3, "day"], "30d": [30 * 86400e3, "day"] };

async function showDashboard() {
  const params = new URLSearchParams(location.search);
  const range = RANGES[params.get("range")] ? params.get("range") : "24h";
  const variant = params.get("variant") || "";
  const [span, bucket] = RANGES[range];
  const to = new Date(Math.ceil(Date.now() / 3600e3) * 3600e3);
  const from = new Date(to.getTime() - span);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  if (variant) q.set("variant", variant);
  const [summary, series] = await Promise.all([
    api("GET", `/api/v1/metrics/summary?${q}`),
    api("GET", `/api/v1/metrics/timeseries?${q}&bucket=${bucket}`),
  ]);
  let alerts = [];
  try {
    alerts = (await api("GET", `/api/v1/alerts?since=${encodeURIComponent(from.toISOString())}&limit=1000`)).alerts;
  } catch {
    /* a key that may not read alerts still sees the other charts */
  }
  const buckets = series.buckets;
  const labels = buckets.map((b) => label(b.start, bucket));
  const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
  // FAR and FRR come as {rate, errors, total, ci95}: the rate with how many labelled cases it rests on
  const labelled = (m) => (m && m.total ? `${pct(m.rate)} (${m.errors}/${m.total})` : "— (no labels)");
  const num = (v) => (v === null || v === undefined ? "—" : String(v));
  const kpi = (name, key, text) => h("div", { class: "kpi", "data-metric": key }, h("span", { class: "kpi-name" }, name), h("span", { class: "kpi-value" }, text));
  const severities = ["critical", "high", "medium", "low"];
  const alertSeries = severities.map((sev) => buckets.map((b) => alerts.filter((a) => a.severity === sev && inBucket(a.first_seen, b)).length));

  const rangeSelect = h("select", { id: "range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === range }, r)));
  const variantInput = h("input", { id: "variant", value: variant, placeholder: "all", size: "10" });
  const apply = h("button", { type: "button" }, "Show");
  apply.addEventListener("click", () => go(`/console/dashboard?range=${rangeSelect.value}${variantInput.value ? `&variant=${encodeURIComponent(variantInput.value)}` : ""}`));

  const chart = (title, draw) => {
    const box = h("figure", { class: "chart" }, h("figcaption", {}, title));
    draw(box);
    return box;
  };
  app.replaceChildren(
    h("section", { class: "panel", id: "dashboard", "data-from": from.toISOString(), "data-to": to.toISOString(), "data-bucket": bucket },
      h("h1", {}, "Dashboard"),
      h("div", { class: "filters" }, h("label", { for: "range" }, "Range "), rangeSelect, h("label", { for: "variant" }, " Policy variant "), variantInput, apply),
      h("p", { class: "muted" }, `${from.toLocaleString()} – ${to.toLocaleString()}${variant ? `, variant ${variant}` : ""}`),
      h("div", { class: "kpis" },
        kpi("Verifications", "total", num(summary.total)),
        kpi("Approved", "approved", num(summary.approved)),
        kpi("Manual review", "manual_review", num(summary.manual_review)),
        kpi("Rejected", "rejected", num(summary.rejected)),
        kpi("Review rate", "review_rate", pct(summary.review_rate)),
        kpi("p95 processing", "p95_processing_ms", summary.p95_processing_ms === null ? "—" : `${summary.p95_processing_ms} ms`),
        kpi("False accept rate", "false_accept_rate", labelled(summary.false_accept_rate)),
        kpi("False reject rate", "false_reject_rate", labelled(summary.false_reject_rate)),
        kpi("Labelled", "labelled", num(summary.labelled)),
      ),
      h("div", { class: "charts" },
        chart("Verifications by status", (el) => drawBars(el, labels, [
          { name: "approved", values: buckets.map((b) => b.approved), color: "#0a7a33" },
          { name: "manual review", values: buckets.map((b) => b.manual_review), color: "#b06f00" },
          { name: "rejected", values: buckets.map((b) => b.rejected), color: "#b3261e" },
        ])),
        chart("Processing time, p95 (ms)", (el) => drawLines(el, labels, [{ name: "p95 ms", values: buckets.map((b) => b.p95_processing_ms), color: "#0b57d0" }])),
        chart("Alerts by severity", (el) => drawBars(el, labels, severities.map((sev, i) => ({ name: sev, values: alertSeries[i], color: ["#7a0000", "#b3261e", "#b06f00", "#5f6368"][i] })))),
        chart("Review rate", (el) => drawLines(el, labels, [{ name: "review rate", values: buckets.map((b) => b.review_rate), color: "#b06f00" }], { percent: true })),
        chart("False accept and false reject rates (from labels)", (el) => drawLines(el, labels, [
          { name: "FAR", values: buckets.map((b) => rateOf(b.false_accept_rate)), color: "#b3261e" },
          { name: "FRR", values: buckets.map((b) => rateOf(b.false_reject_rate)), color: "#0b57d0" },
        ], { percent: true })),
      ),
      h("details", {}, h("summary", {}, "Numbers per bucket"), bucketTable(buckets, bucket)),
    ),
  );
}

function bucketTable(buckets, bucket) {
  const cols = ["approved", "manual_review", "rejected", "p95_processing_ms", "review_rate", "false_accept_rate", "false_reject_rate"];
  return h("table", { class: "queue", id: "buckets" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Start"), cols.map((c) => h("th", { scope: "col" }, c.replaceAll("_", " "))))),
    h("tbody", {}, buckets.map((b) => h("tr", { "data-start": b.start }, h("td", {}, label(b.start, bucket)), cols.map((c) => h("td", { "data-col": c }, cell(b[c])))))));
}

const rateOf = (v) => (v && typeof v === "object" ? v.rate : v);
const cell = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? (v.total ? `${v.rate} (${v.errors}/${v.total})` : "") : String(v));

function label(iso, bucket) {
  const d = new Date(iso);
  return bucket === "hour" ? `${String(d.getHours()).padStart(2, "0")}:00` : `${d.getMonth() + 1}/${d.getDate()}`;
}

function inBucket(iso, b) {
  const t = new Date(iso).getTime();
  return t >= new Date(b.start).getTime() && t < new Date(b.end || b.start).getTime() + (b.end ? 0 : 3600e3);
}

// -- keyboard ------------------------------------------------------------------------------------------

const HELP = "Shortcuts: j/k move in the queue, Enter open, c claim, u release, a approve, r reject, s request resubmission, f fraud, g genuine, Ctrl+Enter submit, n next case, q queue, ? this help.";

document.addEventListener("keydown", (event) => {
  if (!apiKey) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName) && document.activeElement.type !== "radio";
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    document.getElementById("decide")?.requestSubmit();
    return;
  }
  if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
  const [view] = route();
  const pick = (name, value) => {
    const input = document.querySelector(`#decide input[name=${name}][value="${value}"]`);
    if (input) {
      input.checked = true;
      input.focus();
    }
  };
  const keys = {
    "?": () => say(HELP),
    q: () => go("/console#/queue"),
    n: () => current && nextCase(current.id),
    c: () => view === "case" && current?.status === "open" && claimCase(),
    u: () => view === "case" && current?.status === "claimed" && release(),
    a: () => pick("decision", "approve"),
    r: () => pick("decision", "reject"),
    s: () => pick("decision", "request_resubmission"),
    f: () => pick("label", "fraud"),
    g: () => pick("label", "genuine"),
    j: () => moveSelection(1),
    k: () => moveSelection(-1),
    Enter: () => view === "queue" && queueItems[selected] && go(`/console#/case/${queueItems[selected].id}`),
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

function moveSelection(step) {
  if (route()[0] !== "queue" || !queueItems.length) return;
  selected = Math.max(0, Math.min(queueItems.length - 1, selected + step));
  app.querySelectorAll("tbody tr").forEach((tr, i) => {
    tr.classList.toggle("selected", i === selected);
    tr.setAttribute("aria-selected", i === selected ? "true" : "false");
  });
  app.querySelectorAll("tbody tr")[selected]?.querySelector("a")?.focus();
}

render();
