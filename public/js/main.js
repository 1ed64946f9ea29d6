// The project page's entry: a small hash-routed client of the dashboard API. No framework, no
// build step; each concern is one module under public/js/.
import { fail, show } from "./dom.js";
import { leaveProject, initProjectPage, openProject } from "./project.js";
import { openProjects } from "./projects.js";
import { initSession, loadAccount, session } from "./session.js";
import { initWizard, openMapping, openNew } from "./wizard.js";

/** `#/projects`, `#/new`, `#/projects/{id}`, `#/projects/{id}/mapping`; anything else lists projects. */
function route() {
  leaveProject();
  if (!session.token) return show("signin");
  const [first, id, sub] = location.hash.replace(/^#\/?/, "").split("/");
  if (first === "new") return openNew();
  if (first === "projects" && id && sub === "mapping") return openMapping(id);
  if (first === "projects" && id) return openProject(id);
  return openProjects();
}

initSession({
  onSignedIn() {
    location.hash = "#/projects";
    route();
  },
});
initWizard();
initProjectPage();
window.addEventListener("hashchange", route);

if (session.token) {
  try {
    await loadAccount();
  } catch (error) {
    fail(error);
  }
}
route();
