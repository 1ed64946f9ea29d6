// The setup wizard: Connect (credentials, creates the project), then Mapping (fields, slug,
// publish filter and the two sync switches, saved with one PATCH). "Edit mapping" on the
// project page reopens the Mapping step.
import { $, el, setOptions, setSwitches, show } from "./dom.js";
import { errorText } from "./format.js";
import {
  behaviorSwitches, filterNeedsValues, filterOptions, mappingPatch, mappingRows, skippedText, slugOptions,
} from "./mapping.js";
import { api, notePlan } from "./session.js";
import { graphChoices, siblingsBody } from "./site.js";

/** The data sources offered beside the chosen one (`POST /notion/graph`). */
let offered = [];

/** The schema and project the Mapping form was rendered from. */
let loaded = null;

const switches = () => ({ autoSync: $("mapping-auto-sync"), autoPublish: $("mapping-auto-publish"), note: $("mapping-plan-note") });

export function initWizard() {
  $("new-form").addEventListener("submit", createProject);
  $("new-find-related").addEventListener("click", findRelated);
  $("new-database").addEventListener("change", clearOffer);
  $("mapping-filter").addEventListener("change", showFilterValues);
  $("mapping-form").addEventListener("submit", saveMapping);
}

// ---------- Connect ----------

export function openNew() {
  show("new");
  $("new-name").focus();
}

function clearOffer() {
  offered = [];
  $("new-graph").hidden = true;
  $("new-graph-choices").replaceChildren();
  $("new-graph-status").textContent = "";
}

/** Lists the database's other data sources and those it relates to, to tick. */
async function findRelated() {
  const v = (id) => $(id).value.trim();
  clearOffer();
  if (!v("new-notion-token") || !v("new-database")) {
    $("new-graph-status").textContent = "Enter the integration token and the database first.";
    return;
  }
  $("new-graph-status").textContent = "Reading the database…";
  try {
    const framer = v("new-framer-url") ? { project_url: v("new-framer-url") } : undefined;
    const { graph } = await api("/notion/graph", { method: "POST", body: { notion: { token: v("new-notion-token"), database_id: v("new-database") }, ...(framer ? { framer } : {}) } });
    offered = graphChoices(graph);
    $("new-graph-choices").replaceChildren(...offered.map((choice) => {
      const box = el("input", { type: "checkbox", id: `graph-${choice.id}`, "data-source": choice.id });
      box.checked = choice.synced;
      box.disabled = choice.synced;
      return el("label", { for: `graph-${choice.id}` }, box, ` ${choice.label}${choice.synced ? " — already synced" : ""}`);
    }));
    $("new-graph").hidden = offered.length === 0;
    $("new-graph-status").textContent = offered.length ? "" : "Nothing else to sync: no other data source, no relation.";
  } catch (error) {
    $("new-graph-status").textContent = errorText(error);
  }
}

async function createProject(event) {
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
    ...siblingsBody(offered, new Set([...document.querySelectorAll("#new-graph-choices [data-source]:checked")].map((b) => b.dataset.source))),
  };
  $("new-error").textContent = "";
  try {
    const { project } = await api("/projects", { method: "POST", body });
    form.reset();
    clearOffer();
    location.hash = `#/projects/${project.id}/mapping`;
  } catch (error) {
    $("new-error").textContent = errorText(error);
  }
}

// ---------- Mapping ----------

export async function openMapping(id) {
  show("mapping");
  loaded = null;
  $("mapping-back").href = `#/projects/${id}`;
  $("mapping-skip").href = `#/projects/${id}`;
  $("mapping-form").hidden = true;
  $("mapping-error").hidden = true;
  $("mapping-save-error").textContent = "";
  $("mapping-loading").hidden = false;
  try {
    const [{ project }, schema] = await Promise.all([api(`/projects/${id}`), api(`/projects/${id}/schema`)]);
    loaded = { schema, project };
    notePlan(project.plan);
    renderMapping(schema, project);
  } catch (error) {
    $("mapping-error").textContent = `${error.message} You can fix the connection and come back to this step from the project page.`;
    $("mapping-error").hidden = false;
  } finally {
    $("mapping-loading").hidden = true;
  }
}

function renderMapping({ notion, mapping }, project) {
  $("mapping-rows").replaceChildren(...mappingRows(notion.properties, mapping).map(mappingRow));
  $("mapping-skipped").textContent = skippedText(mapping);
  $("mapping-skipped").hidden = !$("mapping-skipped").textContent;
  setOptions($("mapping-slug"), slugOptions(notion.properties, project.slug_property));
  setOptions($("mapping-filter"), filterOptions(notion.properties, project.publish_filter));
  $("mapping-values").value = (project.publish_filter?.values ?? []).join(", ");
  $("mapping-unpublished").value = project.unpublished_mode ?? "remove";
  $("mapping-page-body").checked = project.page_body;
  setSwitches(switches(), behaviorSwitches(project.plan, project.sync));
  showFilterValues();
  $("mapping-form").hidden = false;
}

function mappingRow(row) {
  const enabled = el("input", { type: "checkbox", id: `map-on-${row.id}`, "data-property": row.id, "aria-label": `Sync ${row.name}` });
  enabled.checked = row.enabled;
  enabled.disabled = !row.mapped;
  const kind = el("select", { "data-kind": row.id, "aria-label": `Framer field type for ${row.name}` });
  setOptions(kind, row.kinds);
  kind.disabled = !row.mapped;
  return el("tr", {},
    el("td", {}, enabled),
    el("td", {}, el("label", { for: `map-on-${row.id}`, text: row.name }), " ", el("span", { class: "muted small", text: row.type })),
    el("td", {}, kind));
}

function showFilterValues() {
  $("mapping-values-wrap").hidden = !filterNeedsValues($("mapping-filter").value);
}

/** What the form shows, in the shape `mappingPatch()` reads. */
function choices() {
  const fields = {};
  for (const box of document.querySelectorAll("#mapping-rows [data-property]")) {
    fields[box.dataset.property] = { enabled: box.checked };
  }
  for (const select of document.querySelectorAll("#mapping-rows [data-kind]")) {
    fields[select.dataset.kind] = { ...fields[select.dataset.kind], kind: select.value };
  }
  return {
    fields,
    slug: $("mapping-slug").value,
    filter: $("mapping-filter").value,
    values: $("mapping-values").value,
    unpublished: $("mapping-unpublished").value,
    pageBody: $("mapping-page-body").checked,
    autoSync: $("mapping-auto-sync").checked,
    autoPublish: $("mapping-auto-publish").checked,
  };
}

async function saveMapping(event) {
  event.preventDefault();
  if (!loaded) return;
  const { schema, project } = loaded;
  $("mapping-save-error").textContent = "";
  try {
    await api(`/projects/${project.id}`, { method: "PATCH", body: mappingPatch(schema.mapping, project, choices()) });
    location.hash = `#/projects/${project.id}`;
  } catch (error) {
    $("mapping-save-error").textContent = errorText(error);
    if (error.code === "plan_required") await refreshSwitches(project.id);
  }
}

/**
 * After a plan refusal the account's plan changed since the form was drawn: redraw the switches
 * for the current plan (locked, with the note) and keep every other choice the user made.
 */
async function refreshSwitches(id) {
  try {
    const { project } = await api(`/projects/${id}`);
    if (loaded?.project.id !== id) return;
    loaded.project = project;
    notePlan(project.plan);
    setSwitches(switches(), behaviorSwitches(project.plan, project.sync));
  } catch {
    // The refusal above already says what to do; a failed re-read changes nothing on the form.
  }
}
