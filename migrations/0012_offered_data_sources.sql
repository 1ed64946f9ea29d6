-- Data sources a connected database gained (webhook `data_source.created`): offered on the
-- project page until the owner adds them as sibling projects; never synced silently. At most
-- one row per data source of the project's database, so the table does not grow with age.
CREATE TABLE offered_data_sources (
  project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  data_source_id TEXT NOT NULL,
  offered_at TEXT NOT NULL,
  PRIMARY KEY (project_id, data_source_id)
);
