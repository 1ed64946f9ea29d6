// What the project page says about one sync run beyond its counts: the progress bar of the run
// in flight, the steps a run took and the rows Framer refused. Pure: no DOM, no globals, so
// `node --test` imports it (tests/page.test.mjs) and the browser gets exactly what was tested.

const PHASES = {
  reading: "Reading Notion",
  waiting: "Waiting for related collections",
  writing: "Writing to Framer",
  publishing: "Publishing",
};

/** "1 row", "1,200 rows": thousands grouped the same way in every browser. */
function amount(n, word) {
  return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * The bar beside "Sync now" while a run is in flight (`project.sync.progress`), null when none
 * is: a line of text, and the bar's `value` of `max` rows read once the run knows its total
 * (both null before: an indeterminate bar). Writes overlap reads, so rows read is the run's pace;
 * a run that reads nothing (an empty database) is full as soon as its total, 0, is known.
 */
export function runProgress(progress) {
  if (!progress) return null;
  const read = progress.rows_read ?? 0;
  const written = progress.items_written ?? 0;
  const total = Number.isInteger(progress.rows_total) ? progress.rows_total : null;
  const figures = [];
  if (total) figures.push(`${Math.min(read, total).toLocaleString("en-US")} of ${amount(total, "row")} read`);
  else if (read) figures.push(`${amount(read, "row")} read`);
  if (written) figures.push(`${amount(written, "item")} written`);
  const phase = PHASES[progress.phase] ?? "Syncing";
  const text = figures.length ? `${phase}: ${figures.join(" · ")}` : `${phase}…`;
  const bar = total === null ? { value: null, max: null } : total === 0 ? { value: 1, max: 1 } : { value: Math.min(read, total), max: total };
  return { text, ...bar };
}

/** A history row's second line: "4 steps · 2 rows skipped"; empty when there is neither. */
export function runFacts(run) {
  const parts = [];
  if (run.steps > 0) parts.push(amount(run.steps, "step"));
  if (run.counts?.skipped > 0) parts.push(`${amount(run.counts.skipped, "row")} skipped`);
  return parts.join(" · ");
}

/**
 * The summary of a run's list of refused rows: "2 rows Framer refused". The list keeps at most
 * 100; the count covers every skipped row (also those left out for other reasons), so a longer
 * count says how many are listed.
 */
export function skippedSummary(run) {
  const listed = run.skipped_rows?.length ?? 0;
  const skipped = Math.max(run.counts?.skipped ?? 0, listed);
  const head = `${amount(listed, "row")} Framer refused`;
  return skipped > listed ? `${head} (${amount(skipped, "row")} skipped in all)` : head;
}

/**
 * One refused row as the page lists it: its title, a link to its Notion page (https only: the
 * link is followed in a new tab), and what was refused: "Cover: Invalid URL".
 */
export function skippedRow(row) {
  const title = row.title?.trim() || "Untitled";
  const href = typeof row.url === "string" && /^https:\/\//.test(row.url) ? row.url : null;
  const reason = row.reason || "refused by Framer";
  return { title, href, detail: row.property ? `${row.property}: ${reason}` : reason };
}

/** The notice of removals the deletion guard holds (`project.removals.held`). */
export function heldTitle(count) {
  return `${amount(count, "item")} would be removed — Review`;
}

export function heldReason(reason) {
  if (reason === "empty_read") return "Notion answered with no rows at all while the site holds items (pages unshared from the integration, or a Notion incident). Nothing was removed or published.";
  return "More items would be removed at once than the deletion guard allows. Nothing was removed or published for them; if rows were trashed by mistake, restore them in Notion.";
}

