#!/usr/bin/env node
// Nothing in the repository may read outside it. Checks the repository this file sits in
// (scripts/check-self-contained.sh runs it in a bare copy of the tracked files); exits 1 listing
// every problem:
// - no text names a place outside the checkout: the sibling folder of shared references, this machine's
//   work tree, a home directory;
// - every path a source file reads by literal (Rust include_str!/include_bytes!/#[path], JS
//   import/export, import(), new URL(..., import.meta.url), a TOML path setting) stays inside
//   the repository and exists;
// - every bare JS import resolves (node_modules from package-lock.json), and every JS file parses.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SKIP_DIRS = new Set([".git", "node_modules", "target", "build", ".wrangler", ".test-artifacts"]);
const THIS_FILE = "scripts/check-paths.mjs";

// Text that points out of any fresh clone. Written as patterns so that this file passes itself.
const FORBIDDEN = [
  // The sibling folder beside the checkout; spelled in two parts so no line here names it.
  [new RegExp(String.raw`\.\./` + "shared" + String.raw`\b`, "u"), "a sibling folder (the shared one beside the checkout)"],
  [/\/work\/(main|shared|wt)\b/u, "this machine's work tree"],
  [/(^|[\s"'`(=:])\/(home|Users|root)\/[A-Za-z0-9._-]+/u, "an absolute home directory"],
];

function trackedFiles(dir = ROOT) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...trackedFiles(path));
    else if (entry.isFile()) out.push(relative(ROOT, path).split(sep).join("/"));
  }
  return out.sort();
}

const problems = [];
const report = (file, line, message) => problems.push(`${file}:${line}: ${message}`);
const lineOf = (text, index) => text.slice(0, index).split("\n").length;

function isText(buffer) {
  return !buffer.subarray(0, 8000).includes(0);
}

/** A path `target` that `file` reads must stay inside the repository and exist. */
function checkTarget(file, text, index, target, base, { mustExist = true } = {}) {
  const absolute = resolve(base, target);
  const inside = relative(ROOT, absolute);
  if (inside.startsWith("..") || resolve(inside) !== absolute) {
    report(file, lineOf(text, index), `"${target}" leaves the repository`);
  } else if (mustExist && !existsSync(absolute)) {
    report(file, lineOf(text, index), `"${target}" does not exist in the repository`);
  }
}

function checkRust(file, text) {
  const base = dirname(join(ROOT, file));
  for (const m of text.matchAll(/\b(?:include_str|include_bytes)!\(\s*"([^"]+)"\s*\)|#\[path\s*=\s*"([^"]+)"\]/gu)) {
    checkTarget(file, text, m.index, m[1] ?? m[2], base);
  }
}

function inComment(text, index) {
  const line = text.slice(text.lastIndexOf("\n", index) + 1, index).trim();
  return line.startsWith("//") || line.startsWith("*") || line.startsWith("/*");
}

function checkSpecifier(file, text, index, specifier, { browser }) {
  if (inComment(text, index)) return undefined;
  const base = dirname(join(ROOT, file));
  if (specifier.startsWith("./") || specifier.startsWith("../")) return checkTarget(file, text, index, specifier, base);
  if (specifier.startsWith("/")) {
    // In the page's code (or code a test hands to the browser) "/x" is a URL path under public/.
    if (browser) return checkTarget(file, text, index, `.${specifier}`, join(ROOT, "public"));
    return report(file, lineOf(text, index), `"${specifier}" is an absolute path`);
  }
  if (isBuiltin(specifier) || /^(https?|data):/u.test(specifier)) return undefined;
  try {
    // Resolved from scripts/, i.e. through the repository's node_modules.
    import.meta.resolve(specifier);
  } catch {
    report(file, lineOf(text, index), `package "${specifier}" does not resolve (npm ci?)`);
  }
  return undefined;
}

function checkJs(file, text) {
  const inPublic = file.startsWith("public/");
  const staticImports = /^\s*(?:import|export)\s[^;]*?\sfrom\s*(["'])([^"']+)\1|^\s*import\s*(["'])([^"']+)\3/gmu;
  for (const m of text.matchAll(staticImports)) checkSpecifier(file, text, m.index, m[2] ?? m[4], { browser: inPublic });
  // import("...") in a Node file may be code handed to the browser (page.evaluate): "/x" is a URL.
  for (const m of text.matchAll(/\bimport\(\s*(["'])([^"'$`]+)\1\s*\)/gu)) checkSpecifier(file, text, m.index, m[2], { browser: true });
  for (const m of text.matchAll(/new URL\(\s*(["'])([^"']+)\1\s*,\s*import\.meta\.url\s*\)/gu)) {
    if (inComment(text, m.index)) continue;
    checkTarget(file, text, m.index, m[2], dirname(join(ROOT, file)));
  }
  const parsed = spawnSync(process.execPath, ["--check", file], { cwd: ROOT, encoding: "utf8" });
  if (parsed.status !== 0) report(file, 1, `does not parse:\n${parsed.stderr.trim()}`);
}

function checkToml(file, text) {
  // Path settings (main, directory, migrations_dir, path, ...) are relative to the file; some
  // name build output (wrangler's main), so they need only stay inside.
  for (const m of text.matchAll(/^\s*(main|path|directory|migrations_dir|dir)\s*=\s*"([^"]+)"/gmu)) {
    checkTarget(file, text, m.index, m[2], dirname(join(ROOT, file)), { mustExist: false });
  }
}

const files = trackedFiles();
for (const file of files) {
  const buffer = readFileSync(join(ROOT, file));
  if (!isText(buffer) || statSync(join(ROOT, file)).size > 4_000_000) continue;
  const text = buffer.toString("utf8");
  if (file !== THIS_FILE) {
    text.split("\n").forEach((line, i) => {
      for (const [pattern, what] of FORBIDDEN) if (pattern.test(line)) report(file, i + 1, `names ${what}: ${line.trim().slice(0, 120)}`);
    });
  }
  if (file.endsWith(".rs")) checkRust(file, text);
  else if (/\.(mjs|js)$/u.test(file)) checkJs(file, text);
  else if (file.endsWith(".toml")) checkToml(file, text);
}

if (problems.length > 0) {
  console.error(`paths leaving the repository (or missing from it):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`ok: ${files.length} files read nothing outside the repository`);
