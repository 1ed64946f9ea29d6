// The Mapping step's model: which rows, options and switches to show for a schema and a stored
// project, and the PATCH body made of what the user chose. Pure: no DOM, so `node --test`
// checks it (tests/page.test.mjs); public/js/wizard.js only reads and writes the form.

/** Notion property types whose text can become the slug. */
const SLUG_TYPES = ["title", "rich_text", "formula", "unique_id"];
/** Notion property types a publish filter can test. */
const FILTER_TYPES = ["checkbox", "status", "select"];

/** One table row per Notion property; properties the proposal left out cannot be switched on. */
export function mappingRows(properties, mapping) {
  const byProperty = new Map(mapping.fields.map((f) => [f.property_id, f]));
  return properties.map((p) => {
    const field = byProperty.get(p.id);
    const kinds = p.allowed_field_types.length ? p.allowed_field_types : ["—"];
    return {
      id: p.id,
      name: p.name,
      type: p.type,
      mapped: Boolean(field),
      enabled: Boolean(field?.enabled),
      kinds: kinds.map((k) => ({ value: k, label: k, selected: field?.kind === k })),
    };
  });
}

/** "Not synced (unsupported types): Files, Rollup", or "" when nothing was skipped. */
export function skippedText(mapping) {
  const skipped = mapping.skipped ?? [];
  if (!skipped.length) return "";
  return `Not synced (unsupported types): ${skipped.map((s) => s.property_name ?? s.name).join(", ")}`;
}

/** The "Slug from" choices: automatic, or any text-like property. */
export function slugOptions(properties, slugProperty) {
  return [
    { value: "", label: "Automatic (from the title)", selected: !slugProperty },
    ...properties.filter((p) => SLUG_TYPES.includes(p.type))
      .map((p) => ({ value: p.id, label: p.name, selected: slugProperty === p.id })),
  ];
}

/**
 * The "Publish filter" choices. A value reads `checkbox:<property id>` or `status:<property id>`
 * (select properties filter like status ones: by a list of option names).
 */
export function filterOptions(properties, publishFilter) {
  return [
    { value: "", label: "Publish every row", selected: !publishFilter },
    ...properties.filter((p) => FILTER_TYPES.includes(p.type)).map((p) => p.type === "checkbox"
      ? { value: `checkbox:${p.id}`, label: `Only rows where “${p.name}” is checked`, selected: publishFilter?.property_id === p.id }
      : { value: `status:${p.id}`, label: `Only rows whose “${p.name}” is one of…`, selected: publishFilter?.property_id === p.id }),
  ];
}

/** Whether a filter choice needs the list of values. */
export function filterNeedsValues(choice) {
  return choice.startsWith("status:");
}

/** The stored filter for a choice; `valuesText` is the comma-separated list of accepted values. */
export function publishFilter(choice, valuesText = "") {
  const [kind, propertyId] = choice.split(/:(.*)/s);
  if (kind === "checkbox") return { kind, property_id: propertyId };
  if (kind === "status") {
    return { kind, property_id: propertyId, values: valuesText.split(",").map((s) => s.trim()).filter(Boolean) };
  }
  return null;
}

/**
 * The two sync switches for a plan: on the free plan they are shown as stored but cannot be
 * changed, and the note explains why (the API would answer 402 plan_required).
 */
export function behaviorSwitches(plan, sync) {
  const locked = plan !== "paid";
  return {
    autoSync: { checked: Boolean(sync.auto_sync), disabled: locked },
    autoPublish: { checked: Boolean(sync.auto_publish), disabled: locked },
    showPlanNote: locked,
  };
}

/**
 * The switches the user changed, as PATCH fields. Unchanged ones are left out, so saving a
 * mapping never re-asserts a switch the plan no longer allows.
 */
export function behaviorChanges(sync, { autoSync, autoPublish }) {
  const changes = {};
  if (autoSync !== Boolean(sync.auto_sync)) changes.auto_sync = autoSync;
  if (autoPublish !== Boolean(sync.auto_publish)) changes.auto_publish = autoPublish;
  return changes;
}

/**
 * The PATCH body of the Mapping step. `choices` holds what the form shows: per property id the
 * `enabled` box and the field `kind`, then the slug, filter, values text, unpublished mode, page
 * body box and both switches.
 */
export function mappingPatch(mapping, project, choices) {
  const fields = mapping.fields.map((f) => ({
    ...f,
    enabled: choices.fields[f.property_id]?.enabled ?? f.enabled,
    kind: choices.fields[f.property_id]?.kind ?? f.kind,
  }));
  return {
    mapping: { ...mapping, fields },
    slug_property: choices.slug || null,
    publish_filter: publishFilter(choices.filter, choices.values),
    unpublished_mode: choices.unpublished,
    page_body: choices.pageBody,
    ...behaviorChanges(project.sync, choices),
  };
}
