-- Issue 21: references never dangle. A row writes a reference only to items its target
-- collection holds; what it had to leave out is remembered here, one row per left-out page,
-- so that the target project's run, once it adds that page, asks for the row again. A row's
-- entries are replaced every time it is read, and go with the row (or either project).
CREATE TABLE dangling_references (
  project_id        TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  page_id           TEXT NOT NULL,
  target_project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  target_page_id    TEXT NOT NULL,
  PRIMARY KEY (project_id, page_id, target_project_id, target_page_id)
);
CREATE INDEX dangling_references_target ON dangling_references (target_project_id, target_page_id);
