// Text the page shows, computed from API answers. Pure: no DOM, no globals, so `node --test`
// imports it (tests/page.test.mjs) and the browser gets exactly what was tested.

/** "Just now", "3 minutes ago", "2 hours ago", "5 days ago"; "Never" without a time. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "Never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "Just now";
  const [n, unit] = seconds < 2_700 ? [Math.max(1, Math.round(seconds / 60)), "minute"]
    : seconds < 79_200 ? [Math.round(seconds / 3_600), "hour"]
      : [Math.round(seconds / 86_400), "day"];
  return plural(n, unit) + " ago";
}

/** "1 warning", "2 warnings". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "3 added, 1 removed", or "no changes" when every count is zero or missing. */
export function countsText(counts = {}) {
  const parts = ["added", "updated", "removed"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
  return parts.length ? parts.join(", ") : "no changes";
}

/** The one-line outcome beside "Last sync": "Succeeded · 3 added · 1 skipped · published". */
export function runResult(run) {
  if (!run) return "";
  if (run.status === "running") return "Running…";
  if (run.status === "failed") return `Failed: ${run.error?.message ?? "unknown error"}`;
  const status = run.status[0].toUpperCase() + run.status.slice(1);
  const skipped = run.counts?.skipped ? ` · ${run.counts.skipped} skipped` : "";
  return `${status} · ${countsText(run.counts)}${skipped}${run.published ? " · published" : ""}`;
}

const TRIGGER_LABELS = { manual: "Sync now", webhook: "Notion change" };

/** A history row's main line: "Notion change · incremental · 1 updated". */
export function runSummary(run) {
  const trigger = TRIGGER_LABELS[run.trigger] ?? run.trigger;
  return `${trigger} · ${run.scope} · ${run.status === "running" ? "in progress" : countsText(run.counts)}`;
}

const WEBHOOK_LABELS = { setup_required: "Setup required", token_received: "Token received", active: "Active" };

/** The webhook status pill; an unknown status is shown as sent. */
export function webhookLabel(status) {
  return WEBHOOK_LABELS[status] ?? status;
}

/** The pill on a project card: the pipeline state in two words at most. */
export function pipelineLabel(state) {
  if (state === "active") return "Active";
  if (state === "setup_required") return "Setup required";
  return "Needs attention";
}

/** The muted line on a project card: "Last sync 2 hours ago · 5 items in Framer". */
export function cardSummary(project, now = Date.now()) {
  const last = project.sync.last_sync;
  return `Last sync ${relativeTime(last?.started_at, now).toLowerCase()} · ${project.sync.items_in_framer} items in Framer`;
}

export function planLabel(plan) {
  return plan === "paid" ? "Paid plan" : "Free plan";
}

/**
 * Whether the page should keep polling briskly: a sync runs or is queued, events wait for
 * their debounce, or the sync this page started has not finished yet.
 */
export function isBusy(project, syncs = [], startedSyncId = null) {
  const s = project.sync;
  const startedStillOpen = Boolean(startedSyncId) && !syncs.some((r) => r.id === startedSyncId && r.status !== "running");
  return Boolean(s.running || s.pending.events || s.pending.sync_id || startedStillOpen);
}

/** The progress line beside "Sync now", empty when nothing is under way. */
export function progressText(project, syncs = [], startedSyncId = null) {
  const waiting = Boolean(startedSyncId) && !syncs.some((r) => r.id === startedSyncId);
  const { running, pending } = project.sync;
  if (running) return "Syncing…";
  if (waiting || pending.sync_id) return "Sync queued…";
  if (pending.events) return `${plural(pending.events, "Notion change")} waiting to sync…`;
  return "";
}

/** "40 s", "3 min", "2 h": a wait from now, rounded up. */
function waitText(ms) {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

/**
 * The line under "Sync now" while the pending work keeps failing (`project.sync.retry`): how
 * many runs failed and when the next attempt is due, or that retries stopped and what starts
 * the next one. Empty when nothing failed.
 */
export function retryText(sync, now = Date.now()) {
  const retry = sync?.retry;
  if (!retry) return "";
  const failed = retry.failures === 1 ? "The last sync failed" : `The last ${retry.failures} syncs failed`;
  if (retry.stopped || !retry.next_attempt_at) {
    const next = sync.auto_sync_active ? "the next Notion edit, Sync now or the hourly catch-up tries again" : "press Sync now to try again";
    return `${failed}. Automatic retries stopped; ${next}.`;
  }
  const wait = Date.parse(retry.next_attempt_at) - now;
  return wait <= 0 ? `${failed}; retrying now.` : `${failed}; next attempt in ${waitText(wait)}.`;
}

/**
 * The text for a failed request. A plan refusal (402 plan_required) starts by saying plainly
 * that the paid plan is needed, whatever the server's wording.
 */
export function errorText(error) {
  const message = sentence(error?.message ?? "Something went wrong");
  return error?.code === "plan_required" ? `Paid plan required: ${message}` : message;
}

function sentence(text) {
  return /[.!?…]$/.test(text) ? text : `${text}.`;
}
