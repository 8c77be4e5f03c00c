// The agents' page: rules feedback as you type (/v1/check), a verified rewrite on request
// (/v1/reviews) and the agent's decision on it (/v1/feedback). Plain JavaScript, no build step,
// nothing fetched from anywhere but this service. Text from the API is always inserted as text,
// never as HTML.
"use strict";

const KEY_STORE = "reviewer.apiKey"; // sessionStorage: this tab only
const AGENT_STORE = "reviewer.agentId";
const CHECK_DELAY_MS = 300;

const $ = (id) => document.getElementById(id);
const state = { criteria: {}, checkTimer: 0, checkAbort: null, review: null, reviewedDraft: "" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error.code : "";
  }
}

async function api(method, path, body, signal) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401) askForKey(data && data.error ? data.error.message : "");
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- API key -------------------------------------------------------------------------------
function askForKey(message) {
  const panel = $("key-panel");
  const wasHidden = panel.hidden;
  panel.hidden = false;
  $("key-error").textContent = sessionStorage.getItem(KEY_STORE) ? message : "";
  if (wasHidden) $("api-key").focus();
}

async function useKey(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
  try {
    await loadCriteria();
  } catch (error) {
    if (error.status === 401) return; // askForKey already said why
    $("key-error").textContent = error.message;
    return;
  }
  $("api-key").value = "";
  $("key-panel").hidden = true;
  $("draft").focus();
  scheduleCheck(0);
}

// --- The rubric ----------------------------------------------------------------------------
async function loadCriteria() {
  const data = await api("GET", "/v1/criteria");
  state.criteria = {};
  const select = $("reject-criterion");
  select.replaceChildren(el("option", { value: "", text: "Something else" }));
  for (const c of data.criteria) {
    state.criteria[c.id] = c;
    select.append(el("option", { value: c.id, text: `${c.title} (${c.id})` }));
  }
}

function title(id) {
  return state.criteria[id] ? state.criteria[id].title : id;
}

// --- As-you-type check ---------------------------------------------------------------------
function requestBody(draft) {
  const customer = $("customer").value;
  return { draft, customer_message: customer.trim() ? customer : null };
}

function scheduleCheck(delay = CHECK_DELAY_MS) {
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(runCheck, delay);
}

async function runCheck() {
  const draft = $("draft").value;
  if (state.checkAbort) state.checkAbort.abort();
  if (!draft.trim()) {
    showCheck(null, "");
    return;
  }
  state.checkAbort = new AbortController();
  try {
    const review = await api("POST", "/v1/check", requestBody(draft), state.checkAbort.signal);
    $("check-error").textContent = "";
    showCheck(review, draft);
  } catch (error) {
    if (error.name === "AbortError") return;
    $("check-error").textContent = error.status === 401 ? "" : `Could not check the draft: ${error.message}`;
  }
}

function showCheck(review, draft) {
  const chip = $("verdict");
  chip.dataset.verdict = review ? review.verdict : "none";
  chip.textContent = review ? review.verdict : "type a draft";
  $("score").textContent = review ? `score ${review.score}/100` : "";
  const findings = review ? review.findings : [];
  showAnnotated(draft, findings.filter((f) => f.span && f.span.source === "draft"));
  showFindings($("findings"), findings.filter((f) => !f.span || f.span.source === "draft"));
  const aboutCustomer = findings.filter((f) => f.span && f.span.source === "customer_message");
  showFindings($("customer-findings"), aboutCustomer);
  $("customer-findings-title").hidden = aboutCustomer.length === 0;
  showCriteria(review ? review.criteria : []);
}

function findingText(f) {
  const fix = f.suggestion ? ` Instead: "${f.suggestion}"` : "";
  return `${f.severity}: ${f.message}${fix}`;
}

// The draft with each offending span marked; a mark shows its findings on hover and on focus.
function showAnnotated(text, findings) {
  const box = $("annotated");
  box.replaceChildren();
  const cuts = new Set([0, text.length]);
  for (const f of findings) {
    cuts.add(Math.min(f.span.start, text.length));
    cuts.add(Math.min(f.span.end, text.length));
  }
  const points = [...cuts].sort((a, b) => a - b);
  let tip = 0;
  for (let i = 0; i + 1 < points.length; i++) {
    const [start, end] = [points[i], points[i + 1]];
    const piece = text.slice(start, end);
    const here = findings.filter((f) => f.span.start <= start && f.span.end >= end);
    if (!here.length) {
      box.append(piece);
      continue;
    }
    const worst = ["error", "warning", "suggestion"].find((s) => here.some((f) => f.severity === s));
    const id = `tip-${tip++}`;
    const mark = el("mark", { class: worst, tabindex: "0", "aria-describedby": id });
    mark.append(piece, el("span", { class: "tip", id, role: "tooltip", text: here.map(findingText).join(" ") }));
    box.append(mark);
  }
}

function showFindings(list, findings) {
  list.replaceChildren();
  for (const f of findings) {
    const where = f.span ? `"${f.span.text}": ` : "";
    const item = el("li", { "data-severity": f.severity });
    item.append(el("span", { class: "sev", text: `${f.severity} ` }), `${where}${f.message}`);
    if (f.suggestion) item.append(` Instead: "${f.suggestion}"`);
    item.append(el("span", { class: "hint", text: ` (${title(f.criterion)})` }));
    list.append(item);
  }
}

function criterionState(c) {
  if (!c.decided) return "abstain";
  return c.status === "na" ? "n/a" : c.status;
}

function showCriteria(criteria) {
  const list = $("criteria");
  list.replaceChildren();
  for (const c of criteria) {
    const shown = criterionState(c);
    const item = el("li", { "data-criterion": c.id });
    item.append(
      el("span", { class: "state", "data-state": shown, text: shown }),
      el("span", { text: `${title(c.id)}: ${c.explanation}` }),
    );
    list.append(item);
  }
}

// --- Rewrite -------------------------------------------------------------------------------
async function rewrite() {
  const draft = $("draft").value;
  if (!draft.trim()) {
    $("rewrite-state").textContent = "Write a draft first.";
    return;
  }
  const button = $("rewrite-button");
  button.disabled = true;
  $("rewrite-result").hidden = true;
  $("rewrite-state").textContent = "Reviewing… (a model may take a while)";
  try {
    const review = await api("POST", "/v1/reviews", requestBody(draft));
    state.review = review;
    state.reviewedDraft = draft;
    showRewrite(review, draft);
  } catch (error) {
    $("rewrite-state").textContent = `Could not review: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

function showRewrite(review, draft) {
  if (!review.rewrite) {
    const why = review.engine.degraded
      ? `the model failed (${review.engine.degraded_reason || "no reason given"})`
      : review.engine.mode === "rules" ? "this server checks with rules only (no model)" : "the model gave none";
    $("rewrite-state").textContent = `No rewrite: ${why}. Verdict ${review.verdict}.`;
    return;
  }
  const r = review.rewrite;
  $("rewrite-state").textContent = `Rewrite ready (${r.status}). Verdict on your draft: ${review.verdict}.`;
  const chip = $("rewrite-status");
  chip.dataset.status = r.status;
  chip.textContent = r.status;
  const problems = $("rewrite-problems");
  problems.replaceChildren(...r.problems.map((p) => el("li", { text: p })));
  showDiff($("rewrite-diff"), draft, r.text);
  const facts = r.facts_kept || [];
  $("facts").replaceChildren(...(facts.length ? facts.map((f) => el("li", { text: f }))
    : [el("li", { text: "no numbers, dates, links or names to keep" })]));
  $("edit-area").hidden = true;
  $("use-edit-button").hidden = true;
  $("edit-button").hidden = false;
  $("reject-form").hidden = true;
  $("feedback-state").textContent = "";
  $("rewrite-result").hidden = false;
  $("rewrite-status").focus();
}

// A word diff: the longest common subsequence of words and punctuation marks, each carrying the space
// after it (so spaces never count as common ground, and "#4411." and "#4411," share "#4411").
// One or two short common words between two changes ("that", "we can") join the change, so it reads as a
// phrase replaced; common numbers, links and names always show as kept.
// Long texts fall back to replace-all.
const TOKENS = /\s+|[\p{L}\p{N}'’#@_\-/]+\s*|[^\s\p{L}\p{N}]\s*/gu;
const SHORT_COMMON = 2;
const absorbable = (region) => region.count <= SHORT_COMMON && region.before.trim().length <= 8
  && !/[\p{N}#@/]/u.test(region.before);

function wordOps(a, b) {
  const ka = a.map((t) => t.trim());
  const kb = b.map((t) => t.trim());
  const n = a.length, m = b.length;
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i][j] = ka[i] === kb[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (ka[i] === kb[j]) ops.push(["same", a[i++], b[j++]]);
    else if (table[i + 1][j] >= table[i][j + 1]) ops.push(["del", a[i++], ""]);
    else ops.push(["ins", "", b[j++]]);
  }
  while (i < n) ops.push(["del", a[i++], ""]);
  while (j < m) ops.push(["ins", "", b[j++]]);
  return ops;
}

// Regions of [same, beforeText, afterText] or [change, removedText, addedText].
function regions(ops) {
  const out = [];
  for (const [kind, before, after] of ops) {
    const type = kind === "same" ? "same" : "change";
    const last = out[out.length - 1];
    if (last && last.type === type) { last.before += before; last.after += after; last.count++; }
    else out.push({ type, before, after, count: 1 });
  }
  const merged = [];
  for (let k = 0; k < out.length; k++) {
    const region = out[k];
    const prev = merged[merged.length - 1];
    const next = out[k + 1];
    if (region.type === "same" && absorbable(region) && prev && prev.type === "change" && next) {
      prev.before += region.before + next.before;
      prev.after += region.after + next.after;
      k++;
    } else if (prev && prev.type === region.type && region.type === "change") {
      prev.before += region.before;
      prev.after += region.after;
    } else {
      merged.push({ ...region });
    }
  }
  return merged;
}

function showDiff(box, before, after) {
  const a = before.match(TOKENS) || [];
  const b = after.match(TOKENS) || [];
  const parts = a.length * b.length > 4000000
    ? [{ type: "change", before, after }]
    : regions(wordOps(a, b));
  const nodes = [];
  for (const part of parts) {
    if (part.type === "same") { nodes.push(part.after); continue; }
    if (part.before) nodes.push(el("del", { text: part.before }));
    if (part.after) nodes.push(el("ins", { text: part.after }));
  }
  box.replaceChildren(...nodes);
}

// --- The agent's decision ------------------------------------------------------------------
async function sendFeedback(action, extra) {
  const review = state.review;
  if (!review.id) {
    return "Not recorded: feedback is off on this server (start it with REVIEWER_DB).";
  }
  const agent = $("agent-id").value.trim();
  try {
    await api("POST", "/v1/feedback", { review_id: review.id, action, agent_id: agent || null, ...extra });
    return "Thanks: your feedback is recorded.";
  } catch (error) {
    return `Feedback not recorded: ${error.message}`;
  }
}

function putInDraft(text) {
  $("draft").value = text;
  scheduleCheck(0);
}

async function useRewrite() {
  const text = state.review.rewrite.text;
  putInDraft(text);
  $("feedback-state").textContent = `Used the rewrite. ${await sendFeedback("accepted", {})}`;
}

function startEdit() {
  $("rewrite-edit").value = state.review.rewrite.text;
  $("edit-area").hidden = false;
  $("use-edit-button").hidden = false;
  $("edit-button").hidden = true;
  $("rewrite-edit").focus();
}

async function useEdit() {
  const text = $("rewrite-edit").value;
  if (!text.trim()) {
    $("feedback-state").textContent = "The edited text is empty.";
    return;
  }
  putInDraft(text);
  $("feedback-state").textContent = `Used your edit. ${await sendFeedback("edited", { edited_text: text })}`;
}

function startReject() {
  $("reject-form").hidden = false;
  $("reject-criterion").focus();
}

async function reject(event) {
  event.preventDefault();
  const reason = $("reject-reason").value.trim();
  if (!reason) {
    $("feedback-state").textContent = "Say why you reject it.";
    $("reject-reason").focus();
    return;
  }
  const criterion = $("reject-criterion").value || null;
  $("reject-form").hidden = true;
  $("feedback-state").textContent = `Rejected. ${await sendFeedback("rejected", { reason, criterion })}`;
  $("draft").focus();
}

// --- Start ---------------------------------------------------------------------------------
async function start() {
  $("agent-id").value = sessionStorage.getItem(AGENT_STORE) || "";
  $("agent-id").addEventListener("change", () => sessionStorage.setItem(AGENT_STORE, $("agent-id").value.trim()));
  $("key-form").addEventListener("submit", useKey);
  $("draft").addEventListener("input", () => scheduleCheck());
  $("customer").addEventListener("input", () => scheduleCheck());
  $("rewrite-button").addEventListener("click", rewrite);
  $("use-button").addEventListener("click", useRewrite);
  $("edit-button").addEventListener("click", startEdit);
  $("use-edit-button").addEventListener("click", useEdit);
  $("reject-button").addEventListener("click", startReject);
  $("reject-form").addEventListener("submit", reject);
  const cancelReject = () => { $("reject-form").hidden = true; $("reject-button").focus(); };
  $("reject-cancel").addEventListener("click", cancelReject);
  $("reject-form").addEventListener("keydown", (event) => { if (event.key === "Escape") cancelReject(); });
  $("rewrite-status").setAttribute("tabindex", "-1");
  try {
    await loadCriteria();
  } catch (error) {
    if (error.status !== 401) $("check-error").textContent = `Could not reach the service: ${error.message}`;
  }
  document.body.dataset.ready = "true";
  if ($("draft").value.trim()) scheduleCheck(0);
}

document.addEventListener("DOMContentLoaded", start);
