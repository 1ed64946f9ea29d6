// The project list: one card per project with its pipeline state and last sync.
import { $, el, fail, show } from "./dom.js";
import { cardSummary, pipelineLabel } from "./format.js";
import { api } from "./session.js";

export async function openProjects() {
  show("projects");
  try {
    const { projects } = await api("/projects");
    $("project-list").replaceChildren(...projects.map(projectCard));
    $("project-empty").hidden = projects.length > 0;
  } catch (error) {
    fail(error);
  }
}

function projectCard(p) {
  return el("li", {},
    el("a", { class: "card project-card", href: `#/projects/${p.id}` },
      el("span", { class: "title", text: p.name }),
      el("span", { class: `pill state-${p.pipeline.state}`, text: pipelineLabel(p.pipeline.state) }),
      el("span", { class: "muted small", text: cardSummary(p) })));
}
