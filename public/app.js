// The project page: a small hash-routed client of the dashboard API. No framework, no build.
const TOKEN_KEY = "nfs.token";
const BUSY_POLL_MS = 1500;
const IDLE_POLL_MS = 10_000;
const $ = (id) => document.getElementById(id);

const state = { token: sessionStorage.getItem(TOKEN_KEY), account: null, project: null, timer: null, syncId: null };

// ---------- API ----------

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `Request failed (${status})`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (res.status === 401) {
    signOut("Your session ended: the API token is unknown or was revoked.");
    throw new ApiError(401, json);
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// ---------- Formatting ----------

/** "Just now", "3 minutes ago", "2 hours ago", "5 days ago". */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return "Never";
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 45) return "Just now";
  const [n, unit] = seconds < 2_700 ? [Math.max(1, Math.round(seconds / 60)), "minute"]
    : seconds < 79_200 ? [Math.round(seconds / 3_600), "hour"]
      : [Math.round(seconds / 86_400), "day"];
  return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
}

const WEBHOOK_LABELS = { setup_required: "Setup required", token_received: "Token received", active: "Active" };

function countsText(counts) {
  const parts = ["added", "updated", "removed"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
  return parts.length ? parts.join(", ") : "no changes";
}

function runResult(run) {
  if (!run) return "";
  if (run.status === "running") return "Running…";
  if (run.status === "failed") return `Failed: ${run.error?.message ?? "unknown error"}`;
  const status = run.status[0].toUpperCase() + run.status.slice(1);
  return `${status} · ${countsText(run.counts)}${run.published ? " · published" : ""}`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// ---------- Routing ----------

const VIEWS = ["signin", "projects", "new", "mapping", "project"];

function show(view) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  $("account").hidden = !state.token;
}

function route() {
  stopPolling();
  $("global-error").hidden = true;
  if (!state.token) return show("signin");
  const hash = location.hash.replace(/^#\/?/, "");
  const [first, id, sub] = hash.split("/");
  if (first === "new") return openNew();
  if (first === "projects" && id && sub === "mapping") return openMapping(id);
  if (first === "projects" && id) return openProject(id);
  return openProjects();
}

function fail(error) {
  if (error.status === 401) return;
  $("global-error").textContent = error.message;
  $("global-error").hidden = false;
}

// ---------- Session ----------

async function loadAccount() {
  const { account } = await api("/tokens");
  state.account = account;
  $("account-name").textContent = account.name;
  $("account-plan").textContent = account.plan === "paid" ? "Paid plan" : "Free plan";
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("signin-token").value.trim();
  $("signin-error").textContent = "";
  state.token = token;
  try {
    await loadAccount();
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin-token").value = "";
    location.hash = "#/projects";
    route();
  } catch (error) {
    state.token = null;
    $("signin-error").textContent = error.status === 401 ? "That token is not valid. Check it and try again." : error.message;
  }
});

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.account = null;
  show("signin");
  $("signin-error").textContent = message ?? "";
}

$("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "";
});

// ---------- Project list ----------

async function openProjects() {
  show("projects");
  try {
    const { projects } = await api("/projects");
    const list = $("project-list");
    list.replaceChildren(...projects.map(projectCard));
    $("project-empty").hidden = projects.length > 0;
  } catch (error) {
    fail(error);
  }
}

function projectCard(p) {
  const last = p.sync.last_sync;
  return el("li", {},
    el("a", { class: "card project-card", href: `#/projects/${p.id}` },
      el("span", { class: "title", text: p.name }),
      el("span", { class: `pill state-${p.pipeline.state}`, text: p.pipeline.state === "active" ? "Active" : p.pipeline.state === "setup_required" ? "Setup required" : "Needs attention" }),
      el("span", { class: "muted small", text: `Last sync ${relativeTime(last?.started_at).toLowerCase()} · ${p.sync.items_in_framer} items in Framer` })));
}

// ---------- New project ----------

function openNew() {
  show("new");
  const paid = state.account?.plan === "paid";
  for (const id of ["new-auto-sync", "new-auto-publish"]) $(id).disabled = !paid;
  $("new-auto-sync").checked = paid;
  $("new-plan-note").hidden = paid;
  $("new-name").focus();
}

$("new-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const missing = [...form.querySelectorAll("input[required]")].find((i) => !i.value.trim());
  if (missing) {
    $("new-error").textContent = `${form.querySelector(`label[for=${missing.id}]`).textContent} is required.`;
    missing.focus();
    return;
  }
  const v = (id) => $(id).value.trim();
  const body = {
    name: v("new-name"),
    notion: { token: v("new-notion-token"), database_id: v("new-database") },
    framer: { project_url: v("new-framer-url"), api_key: v("new-framer-key"), collection_name: v("new-collection") },
    auto_sync: $("new-auto-sync").checked,
    auto_publish: $("new-auto-publish").checked,
  };
  $("new-error").textContent = "";
  try {
    const { project } = await api("/projects", { method: "POST", body });
    form.reset();
    location.hash = `#/projects/${project.id}/mapping`;
  } catch (error) {
    $("new-error").textContent = error.message;
  }
});

// ---------- Mapping ----------

let schema = null;

async function openMapping(id) {
  show("mapping");
  $("mapping-back").href = `#/projects/${id}`;
  $("mapping-skip").href = `#/projects/${id}`;
  $("mapping-form").hidden = true;
  $("mapping-error").hidden = true;
  $("mapping-loading").hidden = false;
  try {
    const [{ project }, fetched] = await Promise.all([api(`/projects/${id}`), api(`/projects/${id}/schema`)]);
    schema = { ...fetched, project };
    renderMapping();
  } catch (error) {
    $("mapping-error").textContent = `${error.message} You can fix the connection and come back to this step from the project page.`;
    $("mapping-error").hidden = false;
  } finally {
    $("mapping-loading").hidden = true;
  }
}

function option(value, label, selected) {
  const o = el("option", { value, text: label });
  o.selected = Boolean(selected);
  return o;
}

function renderMapping() {
  const { notion, mapping, project } = schema;
  const byProperty = new Map(mapping.fields.map((f) => [f.property_id, f]));
  const rows = notion.properties.map((p) => {
    const field = byProperty.get(p.id);
    const enabled = el("input", { type: "checkbox", id: `map-on-${p.id}`, "data-property": p.id, "aria-label": `Sync ${p.name}` });
    enabled.checked = Boolean(field?.enabled);
    enabled.disabled = !field;
    const kind = el("select", { "data-kind": p.id, "aria-label": `Framer field type for ${p.name}` },
      ...(p.allowed_field_types.length ? p.allowed_field_types : ["—"]).map((k) => option(k, k, field?.kind === k)));
    kind.disabled = !field;
    return el("tr", {},
      el("td", {}, enabled),
      el("td", {}, el("label", { for: `map-on-${p.id}`, text: p.name }), " ", el("span", { class: "muted small", text: p.type })),
      el("td", {}, kind));
  });
  $("mapping-rows").replaceChildren(...rows);
  const skipped = mapping.skipped ?? [];
  $("mapping-skipped").hidden = skipped.length === 0;
  $("mapping-skipped").textContent = `Not synced (unsupported types): ${skipped.map((s) => s.property_name ?? s.name).join(", ")}`;

  const textual = notion.properties.filter((p) => ["title", "rich_text", "formula", "unique_id"].includes(p.type));
  $("mapping-slug").replaceChildren(option("", "Automatic (from the title)", !project.slug_property),
    ...textual.map((p) => option(p.id, p.name, project.slug_property === p.id)));
  const filter = project.publish_filter;
  const filterable = notion.properties.filter((p) => ["checkbox", "status", "select"].includes(p.type));
  $("mapping-filter").replaceChildren(option("", "Publish every row", !filter),
    ...filterable.map((p) => option(`${p.type === "checkbox" ? "checkbox" : "status"}:${p.id}`,
      p.type === "checkbox" ? `Only rows where “${p.name}” is checked` : `Only rows whose “${p.name}” is one of…`,
      filter?.property_id === p.id)));
  $("mapping-values").value = (filter?.values ?? []).join(", ");
  $("mapping-unpublished").value = project.unpublished_mode ?? "remove";
  $("mapping-page-body").checked = project.page_body;
  syncFilterValues();
  $("mapping-form").hidden = false;
}

function syncFilterValues() {
  $("mapping-values-wrap").hidden = !$("mapping-filter").value.startsWith("status:");
}
$("mapping-filter").addEventListener("change", syncFilterValues);

function mappingBody() {
  const fields = schema.mapping.fields.map((f) => ({
    ...f,
    enabled: document.querySelector(`[data-property="${CSS.escape(f.property_id)}"]`)?.checked ?? f.enabled,
    kind: document.querySelector(`[data-kind="${CSS.escape(f.property_id)}"]`)?.value ?? f.kind,
  }));
  const [kind, propertyId] = $("mapping-filter").value.split(/:(.*)/s);
  let publishFilter = null;
  if (kind === "checkbox") publishFilter = { kind, property_id: propertyId };
  if (kind === "status") {
    const values = $("mapping-values").value.split(",").map((s) => s.trim()).filter(Boolean);
    publishFilter = { kind, property_id: propertyId, values };
  }
  return {
    mapping: { ...schema.mapping, fields },
    slug_property: $("mapping-slug").value || null,
    publish_filter: publishFilter,
    unpublished_mode: $("mapping-unpublished").value,
    page_body: $("mapping-page-body").checked,
  };
}

$("mapping-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("mapping-save-error").textContent = "";
  try {
    await api(`/projects/${schema.project.id}`, { method: "PATCH", body: mappingBody() });
    location.hash = `#/projects/${schema.project.id}`;
  } catch (error) {
    $("mapping-save-error").textContent = error.message;
  }
});

// ---------- Project page ----------

async function openProject(id) {
  show("project");
  if (state.project?.id !== id) {
    state.project = null;
    state.syncId = null;
    $("verification-token").value = "";
    $("token-message").textContent = "";
    $("copy-status").textContent = "";
  }
  $("project-mapping-link").href = `#/projects/${id}/mapping`;
  await refreshProject(id);
}

async function refreshProject(id = state.project?.id) {
  if (!id) return;
  stopPolling();
  try {
    const [{ project }, { syncs }] = await Promise.all([api(`/projects/${id}`), api(`/projects/${id}/syncs?limit=8`)]);
    if (location.hash !== `#/projects/${id}`) return;
    const first = state.project?.id !== project.id;
    state.project = project;
    renderProject(project, syncs);
    if (first && project.webhook.status !== "setup_required") showStoredToken(project.id);
  } catch (error) {
    fail(error);
  }
  schedulePolling();
}

function isBusy(project, syncs = []) {
  const s = project.sync;
  return Boolean(s.running || s.pending.events || s.pending.sync_id || (state.syncId && !syncs.some((r) => r.id === state.syncId && r.status !== "running")));
}

function renderProject(p, syncs) {
  $("project-title").textContent = p.name;
  document.title = `${p.name} · Notion → Framer Sync`;
  $("banner").textContent = p.pipeline.banner;
  $("banner").dataset.state = p.pipeline.state;
  $("webhook-status").textContent = WEBHOOK_LABELS[p.webhook.status] ?? p.webhook.status;
  $("webhook-status").dataset.status = p.webhook.status;
  $("webhook-url").value = p.webhook.url;
  $("confirm-webhook").disabled = p.webhook.status === "active";
  $("confirm-webhook").textContent = p.webhook.status === "active" ? "Verified ✓" : "I've verified in Notion";

  const paid = p.plan === "paid";
  $("auto-sync").checked = p.sync.auto_sync;
  $("auto-publish").checked = p.sync.auto_publish;
  $("auto-sync").disabled = !paid;
  $("auto-publish").disabled = !paid;
  $("plan-note").hidden = paid;

  renderLastSync(p.sync.last_sync);
  $("items-in-framer").textContent = String(p.sync.items_in_framer);
  renderProgress(p, syncs);
  renderHistory(syncs);
  state.busy = isBusy(p, syncs);
  if (!state.busy) state.syncId = null;
}

function renderLastSync(run) {
  const time = $("last-sync-time");
  time.textContent = relativeTime(run?.finished_at ?? run?.started_at);
  time.dataset.at = run?.finished_at ?? run?.started_at ?? "";
  if (run) time.title = new Date(time.dataset.at).toLocaleString();
  $("last-sync-result").textContent = runResult(run);
  $("last-sync-result").dataset.status = run?.status ?? "";
}

function renderProgress(p, syncs) {
  const waiting = state.syncId && !syncs.some((r) => r.id === state.syncId);
  let text = "";
  if (p.sync.running) text = "Syncing…";
  else if (waiting || p.sync.pending.sync_id) text = "Sync queued…";
  else if (p.sync.pending.events) text = `${p.sync.pending.events} Notion change${p.sync.pending.events === 1 ? "" : "s"} waiting to sync…`;
  $("sync-progress").replaceChildren(...(text ? [el("span", { class: "spinner", "aria-hidden": "true" }), text] : []));
  $("sync-now").disabled = Boolean(p.sync.running || waiting);
}

function renderHistory(syncs) {
  $("history").replaceChildren(...syncs.map((run) => {
    const when = run.finished_at ?? run.started_at;
    const warnings = run.warnings?.length ? el("details", {}, el("summary", { text: `${run.warnings.length} warning${run.warnings.length === 1 ? "" : "s"}` }),
      el("ul", {}, ...run.warnings.map((w) => el("li", { text: w })))) : null;
    const error = run.error ? el("p", { class: "run-error", text: `${run.error.message ?? run.error.code}` }) : null;
    return el("li", { class: `run status-${run.status}` },
      el("span", { class: `pill status-${run.status}`, text: run.status }),
      el("span", { class: "run-main" },
        el("span", { text: `${run.trigger === "manual" ? "Sync now" : run.trigger === "webhook" ? "Notion change" : run.trigger} · ${run.scope} · ${run.status === "running" ? "in progress" : countsText(run.counts)}` }),
        el("time", { class: "muted small", datetime: when, "data-at": when, title: new Date(when).toLocaleString(), text: relativeTime(when) })),
      error, warnings);
  }));
  $("history-empty").hidden = syncs.length > 0;
}

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = null;
}

// While something is pending the page polls briskly; otherwise it checks in now and then, so
// syncs started by Notion webhooks show up without a click.
function schedulePolling() {
  stopPolling();
  if (!state.project || $("view-project").hidden) return;
  state.timer = setTimeout(() => {
    if (document.visibilityState === "visible") refreshProject();
    else schedulePolling();
  }, state.busy ? BUSY_POLL_MS : IDLE_POLL_MS);
}

// Relative times age even when nothing is fetched.
setInterval(() => {
  for (const node of document.querySelectorAll("[data-at]")) if (node.dataset.at) node.textContent = relativeTime(node.dataset.at);
}, 15_000);

$("refresh").addEventListener("click", () => refreshProject());

$("sync-now").addEventListener("click", async () => {
  const button = $("sync-now");
  button.disabled = true;
  try {
    const { sync_id: syncId } = await api(`/projects/${state.project.id}/sync`, { method: "POST", body: {} });
    state.syncId = syncId;
    $("sync-progress").replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), "Sync queued…");
    state.busy = true;
    schedulePolling();
  } catch (error) {
    button.disabled = false;
    fail(error);
  }
});

async function patchProject(body) {
  $("behavior-error").textContent = "";
  try {
    const { project } = await api(`/projects/${state.project.id}`, { method: "PATCH", body });
    state.project = project;
    await refreshProject();
  } catch (error) {
    $("behavior-error").textContent = error.message;
    await refreshProject();
  }
}

$("auto-sync").addEventListener("change", (e) => patchProject({ auto_sync: e.target.checked }));
$("auto-publish").addEventListener("change", (e) => patchProject({ auto_publish: e.target.checked }));

// A token already received is shown again when the page is opened later.
async function showStoredToken(id) {
  const answer = await api(`/projects/${id}/webhook/refresh-token`, { method: "POST", body: {} }).catch(() => null);
  if (answer?.token && state.project?.id === id) $("verification-token").value = answer.token;
}

$("refresh-token").addEventListener("click", async () => {
  $("token-message").textContent = "Checking…";
  try {
    const answer = await api(`/projects/${state.project.id}/webhook/refresh-token`, { method: "POST", body: {} });
    $("verification-token").value = answer.token ?? "";
    $("token-message").textContent = answer.token
      ? "Token received. Copy it into Notion's verification dialog, then press “I've verified in Notion”."
      : answer.message;
    await refreshProject();
  } catch (error) {
    $("token-message").textContent = error.message;
  }
});

$("confirm-webhook").addEventListener("click", async () => {
  $("confirm-error").textContent = "";
  try {
    await api(`/projects/${state.project.id}/webhook/confirm`, { method: "POST", body: {} });
    await refreshProject();
  } catch (error) {
    $("confirm-error").textContent = error.message;
  }
});

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (permissions, plain http): fall back to a selection copy.
    const area = el("textarea", { "aria-hidden": "true", class: "visually-hidden" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = $(button.dataset.copy);
    const label = input.id === "webhook-url" ? "Webhook URL" : "Verification token";
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
  });
}

// ---------- Start ----------

window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.project && !$("view-project").hidden) refreshProject();
});

(async () => {
  if (state.token) {
    try {
      await loadAccount();
    } catch (error) {
      fail(error);
    }
  }
  route();
})();
