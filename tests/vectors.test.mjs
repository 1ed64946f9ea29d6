// The committed protocol vectors (vectors/*.json, read by the Rust unit tests) are exactly what
// scripts/make-vectors.mjs makes from the official SDKs installed from package.json.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { makeVectors, VECTORS_DIR } from "../scripts/make-vectors.mjs";

test("every committed vector file equals a fresh regeneration byte for byte", async () => {
  const fresh = await makeVectors();
  const committed = (await readdir(VECTORS_DIR)).filter((name) => name.endsWith(".json")).sort();
  assert.deepEqual(committed, Object.keys(fresh).sort(), "vectors/ holds exactly the generated files");
  for (const [name, text] of Object.entries(fresh)) {
    const onDisk = await readFile(join(VECTORS_DIR, name), "utf8");
    assert.ok(onDisk === text, `vectors/${name} differs from a fresh run: node scripts/make-vectors.mjs, then review the diff`);
  }
});

test("two regenerations write the same bytes", async () => {
  assert.deepEqual(await makeVectors(), await makeVectors());
});
