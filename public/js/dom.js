// Small DOM helpers shared by the views. Markup is built with createElement and textContent
// only (no innerHTML, no style attributes), so a strict Content-Security-Policy holds.
import { errorText } from "./format.js";

export const $ = (id) => document.getElementById(id);

/** `el("a", { class: "card", href, text }, ...children)`; null and undefined children are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** Fills a <select> from `{ value, label, selected }` choices. */
export function setOptions(select, choices) {
  select.replaceChildren(...choices.map(({ value, label, selected }) => {
    const o = el("option", { value, text: label });
    o.selected = Boolean(selected);
    return o;
  }));
}

/** Sets a pair of sync switches and their plan note from `behaviorSwitches()`. */
export function setSwitches({ autoSync, autoPublish, note }, state) {
  for (const [input, s] of [[autoSync, state.autoSync], [autoPublish, state.autoPublish]]) {
    input.checked = s.checked;
    input.disabled = s.disabled;
  }
  note.hidden = !state.showPlanNote;
}

const VIEWS = ["signin", "projects", "new", "mapping", "project"];

/** Shows one view; the account bar shows on every view but sign-in. */
export function show(view) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  $("account").hidden = view === "signin";
  $("global-error").hidden = true;
}

/** A failure no form owns goes to the banner at the top; a 401 has already signed out. */
export function fail(error) {
  if (error.status === 401) return;
  $("global-error").textContent = errorText(error);
  $("global-error").hidden = false;
}

/** Copies text; falls back to a selection copy when the Clipboard API is refused. */
export async function copyText(text) {
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
