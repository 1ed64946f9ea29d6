// The project page: pipeline banner, Sync now with a progress bar, the two sync switches, the
// Notion webhook setup (URL, verification token, confirm) and recent syncs with the rows Framer
// refused. It polls while the page is visible: briskly while something is pending, now and then
// otherwise, so syncs started by Notion webhooks show up without a click.
import { $, copyText, el, fail, setSwitches, show } from "./dom.js";
import { errorText, isBusy, plural, progressText, relativeTime, retryText, runResult, runSummary, webhookLabel } from "./format.js";
import { initAlerts, loadDestinations, renderFreshness } from "./alerts.js";
import { behaviorSwitches } from "./mapping.js";
import { heldReason, heldTitle, runFacts, runProgress, skippedRow, skippedSummary } from "./run-text.js";
import { api, notePlan } from "./session.js";
import { siteRows } from "./site.js";

const BUSY_POLL_MS = 1500;
const IDLE_POLL_MS = 10_000;
const AGE_TICK_MS = 15_000;

/** The project shown, the sync this page started (until it finishes) and the poll timer. */
const current = { project: null, syncId: null, busy: false, timer: null, shownFingerprint: undefined };

const switches = () => ({ autoSync: $("auto-sync"), autoPublish: $("auto-publish"), note: $("plan-note") });

export function initProjectPage() {
  $("refresh").addEventListener("click", () => refreshProject());
  $("sync-now").addEventListener("click", syncNow);
  $("auto-sync").addEventListener("change", (e) => patchProject({ auto_sync: e.target.checked }));
  $("auto-publish").addEventListener("change", (e) => patchProject({ auto_publish: e.target.checked }));
  $("refresh-token").addEventListener("click", refreshToken);
  $("confirm-webhook").addEventListener("click", confirmWebhook);
  initAlerts();
  $("rotate-webhook").addEventListener("click", rotateWebhook);
  $("removals-apply").addEventListener("click", () => decideRemovals("apply"));
  $("removals-dismiss").addEventListener("click", () => decideRemovals("dismiss"));
  for (const button of document.querySelectorAll("[data-copy]")) button.addEventListener("click", () => copyField(button));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && isOpen()) refreshProject();
  });
  // Relative times age even when nothing is fetched.
  setInterval(() => {
    for (const node of document.querySelectorAll("[data-at]")) if (node.dataset.at) node.textContent = relativeTime(node.dataset.at);
  }, AGE_TICK_MS);
}

export async function openProject(id) {
  show("project");
  if (current.project?.id !== id) {
    current.project = null;
    current.syncId = null;
    current.shownFingerprint = undefined;
    $("verification-token").value = "";
    $("token-message").textContent = "";
    $("copy-status").textContent = "";
    $("behavior-error").textContent = "";
  }
  $("project-mapping-link").href = `#/projects/${id}/mapping`;
  await refreshProject(id);
  await loadDestinations();
}

/** Stops polling; the router calls it before opening any view. */
export function leaveProject() {
  clearTimeout(current.timer);
  current.timer = null;
}

const isOpen = () => Boolean(current.project) && !$("view-project").hidden;

async function refreshProject(id = current.project?.id) {
  if (!id) return;
  leaveProject();
  try {
    const [{ project }, { syncs }] = await Promise.all([api(`/projects/${id}`), api(`/projects/${id}/syncs?limit=8`)]);
    if (location.hash !== `#/projects/${id}`) return;
    const first = current.project?.id !== project.id;
    current.project = project;
    renderProject(project, syncs);
    if (first && project.webhook.status !== "setup_required") showStoredToken(project.id);
  } catch (error) {
    fail(error);
  }
  schedulePolling();
}

function schedulePolling() {
  leaveProject();
  if (!isOpen()) return;
  current.timer = setTimeout(() => {
    if (document.visibilityState === "visible") refreshProject();
    else schedulePolling();
  }, current.busy ? BUSY_POLL_MS : IDLE_POLL_MS);
}

// ---------- Rendering ----------

function renderProject(p, syncs) {
  $("project-title").textContent = p.name;
  document.title = `${p.name} · Notion → Framer Sync`;
  $("banner").textContent = p.pipeline.banner;
  $("banner").dataset.state = p.pipeline.state;
  $("webhook-status").textContent = webhookLabel(p.webhook.status);
  $("webhook-status").dataset.status = p.webhook.status;
  $("webhook-url").value = p.webhook.url;
  renderWebhookChanges(p.webhook);
  setSwitches(switches(), behaviorSwitches(p.plan, p.sync));
  notePlan(p.plan);
  renderLastSync(p.sync.last_sync);
  $("items-in-framer").textContent = String(p.sync.items_in_framer);
  renderFreshness(p.freshness);
  renderRemovals(p.removals);
  renderSite(p);
  renderProgress(p, syncs);
  renderHistory(syncs);
  current.busy = isBusy(p, syncs, current.syncId);
  if (!current.busy) current.syncId = null;
}

/** The site's projects with their links, and the data sources the database gained. */
function renderSite(p) {
  const rows = siteRows(p.site);
  $("site-projects").replaceChildren(...rows.map((row) => el("li", {},
    row.current ? el("strong", { text: `${row.name} → ${row.collection}` }) : el("a", { href: `#/projects/${row.id}`, text: `${row.name} → ${row.collection}` }),
    row.links.length ? el("ul", {}, ...row.links.map((link) => el("li", { "data-state": link.state },
      `${link.property}${link.target ? ` → ${link.target}` : ""}: `, el("span", { class: "muted", text: link.text })))) : null)));
  const offered = p.offered_data_sources ?? [];
  $("offered-sources").hidden = offered.length === 0;
  $("offered-list").replaceChildren(...offered.map((o) => {
    const button = el("button", { type: "button", text: "Sync it" });
    button.addEventListener("click", () => addOffered(p.id, o.data_source_id, button));
    return el("li", {}, el("code", { text: o.data_source_id }), " ", button);
  }));
}

async function addOffered(id, dataSourceId, button) {
  button.disabled = true;
  $("offered-error").textContent = "";
  try {
    await api(`/projects/${id}/siblings`, { method: "POST", body: { data_sources: [dataSourceId] } });
    await refreshProject(id);
  } catch (error) {
    $("offered-error").textContent = errorText(error);
    button.disabled = false;
  }
}

function renderLastSync(run) {
  const time = $("last-sync-time");
  const at = run?.finished_at ?? run?.started_at ?? "";
  time.textContent = relativeTime(at);
  time.dataset.at = at;
  if (at) time.title = new Date(at).toLocaleString();
  $("last-sync-result").textContent = runResult(run);
  $("last-sync-result").dataset.status = run?.status ?? "";
}

function renderProgress(p, syncs) {
  const bar = p.sync.running ? runProgress(p.sync.progress) : null;
  if (bar) showBar(bar);
  else showProgress(progressText(p, syncs, current.syncId));
  const waiting = Boolean(current.syncId) && !syncs.some((r) => r.id === current.syncId);
  $("sync-now").disabled = Boolean(p.sync.running || waiting);
  const retry = retryText(p.sync);
  $("sync-retry").textContent = retry;
  $("sync-retry").hidden = !retry;
}

function showProgress(text) {
  $("sync-progress").replaceChildren(...(text ? [el("span", { class: "spinner", "aria-hidden": "true" }), text] : []));
}

/** The run in flight: a bar of rows read (indeterminate until the total is known) and its line. */
function showBar({ text, value, max }) {
  const bar = el("progress", { class: "run-bar", "aria-label": "Sync progress" });
  if (max !== null) {
    bar.max = max;
    bar.value = value;
  }
  $("sync-progress").replaceChildren(bar, el("span", { class: "run-progress-text", text }));
}

function renderHistory(syncs) {
  // A poll redraws the list: a list of refused rows the reader opened or closed stays so.
  const opened = new Map([...$("history").querySelectorAll("details[data-run]")].map((d) => [d.dataset.run, d.open]));
  $("history").replaceChildren(...syncs.map((run, index) => historyRow(run, opened.get(run.id) ?? index === 0)));
  $("history-empty").hidden = syncs.length > 0;
}

/** A run: status, summary and time; steps and skipped count; error, warnings and the rows Framer refused. */
function historyRow(run, skippedOpen) {
  const when = run.finished_at ?? run.started_at;
  const warnings = run.warnings?.length
    ? el("details", {}, el("summary", { text: plural(run.warnings.length, "warning") }), el("ul", {}, ...run.warnings.map((w) => el("li", { text: w }))))
    : null;
  const error = run.error ? el("p", { class: "run-error", text: `${run.error.message ?? run.error.code}` }) : null;
  const facts = runFacts(run);
  return el("li", { class: `run status-${run.status}` },
    el("span", { class: `pill status-${run.status}`, text: run.status }),
    el("span", { class: "run-main" },
      el("span", { text: runSummary(run) }),
      el("time", { class: "muted small", datetime: when, "data-at": when, title: new Date(when).toLocaleString(), text: relativeTime(when) })),
    facts ? el("p", { class: "run-facts muted small", text: facts }) : null,
    error, warnings, skippedList(run, skippedOpen));
}

/** The rows Framer refused, each linked to its Notion page with the property and the reason. */
function skippedList(run, open) {
  if (!run.skipped_rows?.length) return null;
  const list = el("details", { class: "skipped-rows", "data-run": run.id },
    el("summary", { text: skippedSummary(run) }),
    el("ul", {}, ...run.skipped_rows.map((row) => {
      const { title, href, detail } = skippedRow(row);
      const name = href ? el("a", { href, target: "_blank", rel: "noopener noreferrer", text: title }) : el("span", { text: title });
      return el("li", {}, name, ` — ${detail}`);
    })));
  list.open = open;
  return list;
}

/** The removals the deletion guard holds: "48 items would be removed — Review", two buttons. */
function renderRemovals(removals) {
  const held = removals?.held ?? { count: 0, items: [] };
  $("removals-notice").hidden = held.count === 0;
  if (held.count === 0) return;
  $("removals-title").textContent = heldTitle(held.count);
  $("removals-reason").textContent = heldReason(held.reason);
  const list = $("removals-list");
  list.replaceChildren(...held.items.map((item) => el("li", {}, el("a", { href: item.url, target: "_blank", rel: "noopener noreferrer" }, item.title || item.page_id))));
  if (held.count > held.items.length) list.append(el("li", { class: "muted" }, `… and ${held.count - held.items.length} more`));
}

// ---------- Actions ----------

/** "Remove them" queues a run that removes those Notion still does not show; "Keep them" keeps them. */
async function decideRemovals(action) {
  $("removals-error").textContent = "";
  for (const id of ["removals-apply", "removals-dismiss"]) $(id).disabled = true;
  try {
    const answer = await api(`/projects/${current.project.id}/removals/${action}`, { method: "POST", body: {} });
    if (answer.sync_id) {
      current.syncId = answer.sync_id;
      current.busy = true;
    }
  } catch (error) {
    $("removals-error").textContent = errorText(error);
  } finally {
    for (const id of ["removals-apply", "removals-dismiss"]) $(id).disabled = false;
  }
  await refreshProject();
}

async function syncNow() {
  const button = $("sync-now");
  button.disabled = true;
  try {
    const { sync_id: syncId } = await api(`/projects/${current.project.id}/sync`, { method: "POST", body: {} });
    current.syncId = syncId;
    showProgress("Sync queued…");
    current.busy = true;
    schedulePolling();
  } catch (error) {
    button.disabled = false;
    fail(error);
  }
}

/** Saves one switch; a refusal (e.g. 402 plan_required) is shown and the switches redrawn as stored. */
async function patchProject(body) {
  $("behavior-error").textContent = "";
  try {
    const { project } = await api(`/projects/${current.project.id}`, { method: "PATCH", body });
    current.project = project;
  } catch (error) {
    $("behavior-error").textContent = errorText(error);
  }
  await refreshProject();
}

/**
 * A newer verification token, or a new URL, waits for the owner: the confirm button stays
 * available, and a notice says what arrived and what the current setup keeps doing meanwhile.
 */
function renderWebhookChanges(hook) {
  const rotationReady = Boolean(hook.next_url && hook.next_url_verified_at);
  const settled = hook.status === "active" && !hook.replacement_pending && !rotationReady;
  $("confirm-webhook").disabled = settled;
  $("confirm-webhook").textContent = settled ? "Verified ✓" : "I've verified in Notion";
  const notes = [];
  if (hook.replacement_pending) {
    notes.push(`A new verification token arrived ${relativeTime(hook.new_token_received_at)}. If you asked Notion for it, press “Refresh token”, paste it into Notion, then “I've verified in Notion”. If you did not, ignore it: the current token keeps working.`);
  }
  if (hook.next_url) {
    notes.push(hook.next_url_verified_at
      ? "Notion verified the new URL: press “I've verified in Notion” to retire the old one."
      : "Waiting for Notion's verification request at the new URL.");
  }
  $("webhook-notice").textContent = notes.join(" ");
  $("webhook-notice").hidden = notes.length === 0;
  $("next-url-row").hidden = !hook.next_url;
  $("webhook-next-url").value = hook.next_url ?? "";
}

async function rotateWebhook() {
  $("rotate-error").textContent = "";
  const sure = window.confirm("Issue a new webhook URL? You then update the Notion subscription to the new URL; the current URL keeps working until you confirm the new one here.");
  if (!sure) return;
  try {
    await api(`/projects/${current.project.id}/webhook/rotate`, { method: "POST", body: {} });
    await refreshProject();
  } catch (error) {
    $("rotate-error").textContent = errorText(error);
  }
}

// A token already received is shown again when the page is opened later.
async function showStoredToken(id) {
  const answer = await api(`/projects/${id}/webhook/refresh-token`, { method: "POST", body: {} }).catch(() => null);
  if (answer?.token && current.project?.id === id) showToken(answer);
}

// The token on screen, and its fingerprint: "I've verified in Notion" confirms that token only,
// so a token that arrives after the owner looked is never swapped in by the click.
function showToken(answer) {
  $("verification-token").value = answer.token ?? "";
  current.shownFingerprint = answer.token ? answer.fingerprint : undefined;
}

async function refreshToken() {
  $("token-message").textContent = "Checking…";
  try {
    const answer = await api(`/projects/${current.project.id}/webhook/refresh-token`, { method: "POST", body: {} });
    showToken(answer);
    $("token-message").textContent = answer.token
      ? "Token received. Copy it into Notion's verification dialog, then press “I've verified in Notion”."
      : answer.message;
    await refreshProject();
  } catch (error) {
    $("token-message").textContent = error.message;
  }
}

async function confirmWebhook() {
  $("confirm-error").textContent = "";
  try {
    const body = current.shownFingerprint ? { fingerprint: current.shownFingerprint } : {};
    await api(`/projects/${current.project.id}/webhook/confirm`, { method: "POST", body });
    await refreshProject();
  } catch (error) {
    // 409: another token arrived since the one on screen; the message says to refresh it.
    $("confirm-error").textContent = error.message;
  }
}

async function copyField(button) {
  const input = $(button.dataset.copy);
  const label = { "webhook-url": "Webhook URL", "webhook-next-url": "New webhook URL" }[input.id] ?? "Verification token";
  if (!input.value) {
    $("copy-status").textContent = `${label} is empty: press “Refresh token” first.`;
    return;
  }
  const ok = await copyText(input.value);
  $("copy-status").textContent = ok ? `${label} copied to the clipboard.` : `Copy failed: select the ${label.toLowerCase()} and copy it by hand.`;
  if (ok) {
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 2000);
  }
}
