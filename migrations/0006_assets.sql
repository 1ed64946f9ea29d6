-- Notion-hosted files re-hosted in Framer (issue 12): Notion's signed file URLs expire within
-- the hour, so each file is uploaded to Framer once and remembered here under its stable key
-- (sync::assets::asset_key: "image:" or "file:" + the URL's host and path without the
-- signature). A later run finds the key and reuses the asset: an unchanged file is never
-- uploaded again, a replaced one (new path in Notion) once. A row is written only after
-- Framer answered the upload, so every remembered asset exists in Framer.
CREATE TABLE assets (
  project_id  TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  file_key    TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('image', 'file')),
  asset_id    TEXT NOT NULL,
  asset_url   TEXT NOT NULL,
  uploaded_at TEXT NOT NULL,
  PRIMARY KEY (project_id, file_key)
);

-- Items written before re-hosting point at Notion's expiring URLs: mark every recorded item so
-- that the next run writes it again (page body included) and re-hosts its files, once.
UPDATE synced_items SET content_hash = 'retry:' || content_hash WHERE content_hash NOT LIKE 'retry:%';

-- With page bodies on, a row not edited since its last sync keeps its body, but a property can
-- change within the same minute (Notion stamps edits to the minute): the hash of the fields
-- without the body tells.
ALTER TABLE synced_items ADD COLUMN fields_hash TEXT;
