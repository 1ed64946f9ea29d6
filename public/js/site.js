// A site's graph on the page: the projects syncing into the same Framer project and how their
// collections link (project page), and the data sources the Connect step offers beside the
// chosen one. Pure helpers, tested in tests/page.test.mjs.

const STATE_TEXT = {
  reference: "reference",
  waiting_for_target: "waiting for target: a reference from the next sync",
  text: "text: the related data source is not synced",
};

/** What a relation's state means, in a few words. */
export function relationStateText(state) {
  return STATE_TEXT[state] ?? state;
}

/**
 * The site's projects, the current one first, each with its links:
 * `{ id, name, collection, current, links: [{ property, target, state, text }] }`.
 */
export function siteRows(site) {
  const projects = site?.projects ?? [];
  const names = Object.fromEntries(projects.map((p) => [p.id, p.collection_name]));
  const rows = projects.map((p) => ({
    id: p.id,
    name: p.name,
    collection: p.collection_name,
    current: p.current,
    links: p.relations.map((r) => ({
      property: r.property_name,
      target: r.target_project_id ? names[r.target_project_id] : null,
      state: r.state,
      text: relationStateText(r.state),
    })),
  }));
  return [...rows.filter((r) => r.current), ...rows.filter((r) => !r.current)];
}

/**
 * The Connect step's choices from a graph answer: other data sources of the database, then the
 * related ones; those the site already syncs are shown ticked and disabled.
 * `{ id, list: "data_sources" | "related", label, synced }`.
 */
export function graphChoices(graph) {
  if (!graph) return [];
  const own = graph.data_sources
    .filter((s) => !s.chosen)
    .map((s) => ({ id: s.id, list: "data_sources", label: `${s.name || "Untitled"} (another data source of ${graph.database.name || "this database"})`, synced: Boolean(s.synced_by) }));
  const related = graph.related.map((s) => {
    const via = [...new Set(s.via.map((v) => v.property_name))].join(", ");
    return { id: s.id, list: "related", label: `${s.name || "Untitled"} (related through ${via})`, synced: Boolean(s.synced_by) };
  });
  return [...own, ...related];
}

/** The create request's `data_sources` and `related` from the ticked choices. */
export function siblingsBody(choices, ticked) {
  const body = {};
  for (const choice of choices) {
    if (choice.synced || !ticked.has(choice.id)) continue;
    (body[choice.list] ??= []).push(choice.id);
  }
  return body;
}
