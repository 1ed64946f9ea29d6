// Proves fakes/notion.mjs against the official @notionhq/client 5.26.0:
// every shape and error below is read through the SDK the way real code would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  APIErrorCode,
  APIResponseError,
  Client,
  ClientErrorCode,
  UnknownHTTPResponseError,
  collectAllDataSourceRows,
  collectPaginatedAPI,
  isFullPage,
  iteratePaginatedAPI,
} from "@notionhq/client";
import { startFakeNotion } from "../fakes/notion.mjs";

const TOKEN = "ntn_test_token";
const quiet = () => {};

function clientFor(fake, options = {}) {
  return new Client({ auth: TOKEN, baseUrl: fake.url, logger: quiet, ...options });
}

async function rejectsWith(promise, code, status) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof APIResponseError, `expected APIResponseError, got ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    assert.equal(typeof err.request_id, "string");
    return true;
  });
}

const SCHEMA = {
  Name: { type: "title" },
  Tags: { type: "multi_select", options: ["a", "b"] },
  Color: { type: "select", options: ["red", "blue"] },
  Stage: { type: "status", options: ["Draft", "Review", "Done"] },
  Published: { type: "checkbox" },
  Date: { type: "date" },
  Cover: { type: "files" },
  Count: { type: "number" },
  Related: { type: "relation" },
  Slug: { type: "rich_text" },
};

describe("fake Notion against @notionhq/client", () => {
  let fake;
  let notion;
  let db;

  before(async () => {
    fake = await startFakeNotion();
    fake.addIntegration(TOKEN);
    db = fake.addDatabase({ title: "Posts", properties: SCHEMA, token: TOKEN });
    notion = clientFor(fake, { retry: false });
  });
  after(() => fake.close());

  test("databases.retrieve lists the data sources", async () => {
    const database = await notion.databases.retrieve({ database_id: db.databaseId });
    assert.equal(database.object, "database");
    assert.equal(database.id, db.databaseId);
    assert.deepEqual(database.data_sources, [{ id: db.dataSourceId, name: "Posts" }]);
    assert.equal(database.title[0].plain_text, "Posts");
    assert.equal(database.archived, false);
  });

  test("ids are accepted without dashes, as Notion does", async () => {
    const database = await notion.databases.retrieve({ database_id: db.databaseId.replaceAll("-", "") });
    assert.equal(database.id, db.databaseId);
  });

  test("dataSources.retrieve gives the schema with Notion-like property ids", async () => {
    const ds = await notion.dataSources.retrieve({ data_source_id: db.dataSourceId });
    assert.equal(ds.object, "data_source");
    assert.deepEqual(ds.parent, { type: "database_id", database_id: db.databaseId });
    assert.deepEqual(Object.keys(ds.properties), Object.keys(SCHEMA));
    assert.equal(ds.properties.Name.id, "title");
    for (const [name, prop] of Object.entries(ds.properties)) {
      assert.equal(prop.name, name);
      assert.equal(prop.type, SCHEMA[name].type);
      assert.match(prop.id, /^([A-Za-z0-9~]|%[0-9A-F]{2})+$/, `url-safe id for ${name}`);
      assert.ok(name === "Name" || decodeURIComponent(prop.id).length === 4);
    }
    assert.deepEqual(ds.properties.Color.select.options.map((o) => o.name), ["red", "blue"]);
    const groups = Object.fromEntries(ds.properties.Stage.status.groups.map((g) => [g.name, g.option_ids.length]));
    assert.deepEqual(groups, { "To-do": 1, "In progress": 1, Complete: 1 });
    assert.deepEqual(ds.properties.Related.relation.data_source_id, db.dataSourceId);
  });

  test("pages.retrieve turns friendly input into Notion property values", async () => {
    const other = fake.addPage(db.dataSourceId, { properties: { Name: "Other" } });
    const id = fake.addPage(db.dataSourceId, {
      properties: {
        Name: "Hello world", Tags: ["a", "new"], Color: "red", Published: true, Date: "2024-01-01",
        Cover: { external: "https://example.com/x.png" }, Count: 3, Related: [other], Slug: "hello",
      },
    });
    const page = await notion.pages.retrieve({ page_id: id });
    assert.ok(isFullPage(page));
    assert.deepEqual(page.parent, { type: "data_source_id", data_source_id: db.dataSourceId, database_id: db.databaseId });
    const p = page.properties;
    assert.equal(p.Name.title[0].plain_text, "Hello world");
    assert.equal(p.Name.title[0].annotations.bold, false);
    assert.deepEqual(p.Tags.multi_select.map((o) => o.name), ["a", "new"]);
    assert.equal(p.Color.select.name, "red");
    assert.equal(p.Stage.status.name, "Draft", "new rows get the first To-do status");
    assert.equal(p.Published.checkbox, true);
    assert.deepEqual(p.Date.date, { start: "2024-01-01", end: null, time_zone: null });
    assert.deepEqual(p.Cover.files, [{ name: "x.png", type: "external", external: { url: "https://example.com/x.png" } }]);
    assert.equal(p.Count.number, 3);
    assert.deepEqual(p.Related.relation, [{ id: other }]);
    assert.equal(p.Related.has_more, false);
    assert.equal(p.Slug.rich_text[0].plain_text, "hello");
    assert.match(page.url, new RegExp(`Hello-world-${id.replaceAll("-", "")}$`));
    const ds = await notion.dataSources.retrieve({ data_source_id: db.dataSourceId });
    assert.ok(ds.properties.Tags.multi_select.options.some((o) => o.name === "new"), "unknown option added to schema");
  });

  test("filter_properties limits the returned properties", async () => {
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Only title", Count: 1 } });
    const ds = await notion.dataSources.retrieve({ data_source_id: db.dataSourceId });
    const page = await notion.pages.retrieve({ page_id: id, filter_properties: [ds.properties.Count.id] });
    assert.deepEqual(Object.keys(page.properties), ["Count"]);
  });

  test("relations beyond 25 are cut in the page and paged by pages.properties.retrieve", async () => {
    const targets = Array.from({ length: 30 }, (_, i) => fake.addPage(db.dataSourceId, { properties: { Name: `T${i}` } }));
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Many", Related: targets } });
    const page = await notion.pages.retrieve({ page_id: id });
    assert.equal(page.properties.Related.relation.length, 25);
    assert.equal(page.properties.Related.has_more, true);
    const items = await collectPaginatedAPI(notion.pages.properties.retrieve, {
      page_id: id, property_id: page.properties.Related.id, page_size: 7,
    });
    assert.deepEqual(items.map((item) => item.relation.id), targets);
  });

  test("a relation of 150 is two property pages of 100 and 50, as the SDK reads them", async () => {
    const targets = Array.from({ length: 150 }, (_, i) => fake.addPage(db.dataSourceId, { properties: { Name: `U${i}` } }));
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Lots", Related: targets } });
    const [row] = (await notion.dataSources.query({
      data_source_id: db.dataSourceId, filter: { property: "Name", title: { equals: "Lots" } },
    })).results;
    assert.equal(row.properties.Related.relation.length, 25, "a query row carries 25 like a page");
    assert.equal(row.properties.Related.has_more, true);
    const property_id = row.properties.Related.id;
    fake.resetStats();
    const first = await notion.pages.properties.retrieve({ page_id: id, property_id, page_size: 100 });
    assert.equal(first.object, "list");
    assert.equal(first.type, "property_item");
    assert.equal(first.property_item.type, "relation");
    assert.equal(first.results.length, 100);
    assert.ok(first.results.every((item) => item.object === "property_item" && item.type === "relation" && item.id === property_id));
    assert.equal(first.has_more, true);
    assert.equal(typeof first.next_cursor, "string");
    const second = await notion.pages.properties.retrieve({ page_id: id, property_id, page_size: 100, start_cursor: first.next_cursor });
    assert.equal(second.results.length, 50);
    assert.equal(second.has_more, false);
    assert.equal(second.next_cursor, null);
    assert.deepEqual([...first.results, ...second.results].map((item) => item.relation.id), targets);
    assert.equal(fake.stats.byRoute["GET /v1/pages/:id/properties/:property"], 2);
    // Without page_size Notion answers its maximum, 100.
    assert.equal((await notion.pages.properties.retrieve({ page_id: id, property_id })).results.length, 100);
  });

  test("a two-way relation shows as dual_property on both sides, and an edit of one side changes the other without editing it", async () => {
    const people = fake.addDatabase({ title: "People", properties: { Name: { type: "title" } }, token: TOKEN });
    const books = fake.addDatabase({
      title: "Books",
      properties: { Name: { type: "title" }, Authors: { type: "relation", dataSourceId: people.dataSourceId, syncedPropertyName: "Books" } },
      token: TOKEN,
    });
    const ada = fake.addPage(people.dataSourceId, { properties: { Name: "Ada" }, editedTime: Date.parse("2024-05-01T10:00:00Z") });
    const book = fake.addPage(books.dataSourceId, { properties: { Name: "Notes", Authors: [ada] } });
    const peopleSchema = await notion.dataSources.retrieve({ data_source_id: people.dataSourceId });
    const booksSchema = await notion.dataSources.retrieve({ data_source_id: books.dataSourceId });
    assert.equal(booksSchema.properties.Authors.relation.type, "dual_property");
    assert.equal(booksSchema.properties.Authors.relation.dual_property.synced_property_id, peopleSchema.properties.Books.id);
    assert.equal(booksSchema.properties.Authors.relation.dual_property.synced_property_name, "Books");
    assert.equal(peopleSchema.properties.Books.relation.type, "dual_property");
    assert.equal(peopleSchema.properties.Books.relation.data_source_id, books.dataSourceId);
    assert.equal(peopleSchema.properties.Books.relation.dual_property.synced_property_id, booksSchema.properties.Authors.id);
    const adaPage = await notion.pages.retrieve({ page_id: ada });
    assert.deepEqual(adaPage.properties.Books.relation, [{ id: book }]);
    assert.equal(adaPage.last_edited_time, "2024-05-01T10:00:00.000Z");
    fake.updatePage(ada, { Books: [] });
    assert.deepEqual((await notion.pages.retrieve({ page_id: book })).properties.Authors.relation, [], "the other side follows");
  });

  test("the property endpoint refuses what Notion refuses: page_size over 100, a bad cursor, an unknown property or page", async () => {
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Refusals" } });
    const page = await notion.pages.retrieve({ page_id: id });
    const property_id = page.properties.Related.id;
    await rejectsWith(notion.pages.properties.retrieve({ page_id: id, property_id, page_size: 101 }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.pages.properties.retrieve({ page_id: id, property_id, start_cursor: "not-a-cursor" }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.pages.properties.retrieve({ page_id: id, property_id: "nope" }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.pages.properties.retrieve({ page_id: "00000000-0000-4000-8000-000000000000", property_id }), APIErrorCode.ObjectNotFound, 404);
    const unshared = new Client({ auth: "ntn_stranger", baseUrl: fake.url, logger: quiet, retry: false });
    fake.addIntegration("ntn_stranger");
    await rejectsWith(unshared.pages.properties.retrieve({ page_id: id, property_id }), APIErrorCode.ObjectNotFound, 404);
    // Failures injected for this route reach it like any other.
    fake.failNext({ status: 503, match: "GET /v1/pages/:id/properties/:property" });
    await rejectsWith(notion.pages.properties.retrieve({ page_id: id, property_id }), APIErrorCode.ServiceUnavailable, 503);
    const empty = await notion.pages.properties.retrieve({ page_id: id, property_id });
    assert.deepEqual({ results: empty.results, has_more: empty.has_more, next_cursor: empty.next_cursor }, { results: [], has_more: false, next_cursor: null });
  });
});

describe("queries", () => {
  let fake;
  let notion;
  let db;
  const base = Date.parse("2024-03-01T10:00:00Z");

  before(async () => {
    fake = await startFakeNotion();
    fake.addIntegration(TOKEN);
    db = fake.addDatabase({ title: "Rows", properties: SCHEMA, token: TOKEN });
    notion = clientFor(fake, { retry: false });
  });
  after(() => fake.close());

  test("pagination with iteratePaginatedAPI / collectPaginatedAPI", async () => {
    const pager = fake.addDatabase({ title: "Pager", properties: { Name: { type: "title" } }, token: TOKEN });
    const ids = Array.from({ length: 250 }, (_, i) =>
      fake.addPage(pager.dataSourceId, { properties: { Name: `Row ${i}` }, createdTime: base + i * 60_000 }));
    fake.resetStats();
    const rows = await collectPaginatedAPI(notion.dataSources.query, {
      data_source_id: pager.dataSourceId, sorts: [{ timestamp: "created_time", direction: "ascending" }],
    });
    assert.deepEqual(rows.map((r) => r.id), ids);
    assert.equal(fake.stats.byRoute["POST /v1/data_sources/:id/query"], 3, "default page_size is 100");
    const seen = [];
    for await (const row of iteratePaginatedAPI(notion.dataSources.query, { data_source_id: pager.dataSourceId, page_size: 60 })) {
      seen.push(row.id);
    }
    assert.deepEqual(seen, [...ids].reverse(), "no sorts: newest first (the fake's documented choice)");
    const first = await notion.dataSources.query({ data_source_id: pager.dataSourceId, page_size: 100 });
    assert.equal(first.has_more, true);
    assert.equal(typeof first.next_cursor, "string");
    assert.deepEqual(first.request_status, { type: "complete" });
  });

  test("last_edited_time and created_time are rounded down to the minute", async () => {
    fake.setClock(() => Date.parse("2024-05-06T07:08:09.123Z"));
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Clocked" } });
    fake.setClock(() => new Date("2024-05-06T07:09:59.999Z"));
    fake.updatePage(id, { Count: 2 });
    fake.setClock(null);
    const page = await notion.pages.retrieve({ page_id: id });
    assert.equal(page.created_time, "2024-05-06T07:08:00.000Z");
    assert.equal(page.last_edited_time, "2024-05-06T07:09:00.000Z");
  });

  test("timestamp, property and compound filters; trashed rows excluded", async () => {
    const f = fake.addDatabase({ title: "Filters", properties: SCHEMA, token: TOKEN });
    const at = (minutes) => base + minutes * 60_000;
    const a = fake.addPage(f.dataSourceId, { properties: { Name: "a", Published: true, Stage: "Done", Color: "red" }, createdTime: at(0), editedTime: at(10) });
    const b = fake.addPage(f.dataSourceId, { properties: { Name: "b", Published: false, Stage: "Review", Color: "blue" }, createdTime: at(1), editedTime: at(20) });
    const c = fake.addPage(f.dataSourceId, { properties: { Name: "c", Published: true, Color: "red" }, createdTime: at(2), editedTime: at(30) });
    const trashed = fake.addPage(f.dataSourceId, { properties: { Name: "t", Published: true }, createdTime: at(3), editedTime: at(40) });
    fake.trashPage(trashed, { editedTime: at(41) });
    const query = async (filter, sorts = [{ timestamp: "created_time", direction: "ascending" }]) =>
      (await notion.dataSources.query({ data_source_id: f.dataSourceId, filter, sorts })).results.map((r) => r.id);
    const edited = (cond) => ({ timestamp: "last_edited_time", last_edited_time: cond });
    const created = (cond) => ({ timestamp: "created_time", created_time: cond });

    assert.deepEqual(await query(undefined), [a, b, c]);
    assert.deepEqual(await query(edited({ on_or_after: new Date(at(20)).toISOString() })), [b, c]);
    assert.deepEqual(await query(edited({ after: new Date(at(20)).toISOString() })), [c]);
    assert.deepEqual(await query(edited({ before: new Date(at(20)).toISOString() })), [a]);
    assert.deepEqual(await query(edited({ on_or_before: new Date(at(20)).toISOString() })), [a, b]);
    // Rounded times: an edit at 10:20:xx is stored as 10:20:00, so a later-second bound misses it.
    assert.deepEqual(await query(edited({ on_or_after: new Date(at(20) + 30_000).toISOString() })), [c]);
    assert.deepEqual(await query(created({ on_or_after: "2024-03-01" })), [a, b, c]);
    assert.deepEqual(await query(created({ after: "2024-03-01" })), []);
    assert.deepEqual(await query({ and: [created({ before: new Date(at(2)).toISOString() }), { property: "Published", checkbox: { equals: true } }] }), [a]);
    assert.deepEqual(await query({ or: [{ property: "Stage", status: { equals: "Review" } }, { property: "Color", select: { equals: "red" } }] }), [a, b, c]);
    assert.deepEqual(await query({ property: "Stage", status: { equals: "Done" } }), [a]);
    assert.deepEqual(await query({ property: "Color", select: { equals: "blue" } }), [b]);
    assert.deepEqual(await query({ property: "Published", checkbox: { does_not_equal: true } }), [b]);
    assert.deepEqual(await query(undefined, [{ timestamp: "last_edited_time", direction: "descending" }]), [c, b, a]);
    assert.deepEqual(await query(undefined, [{ property: "Name", direction: "descending" }]), [c, b, a]);

    fake.restorePage(trashed, { editedTime: at(50) });
    assert.deepEqual(await query(edited({ on_or_after: new Date(at(45)).toISOString() })), [trashed]);
    const page = await notion.pages.retrieve({ page_id: a });
    assert.equal(page.in_trash, false);
    fake.trashPage(a);
    assert.equal((await notion.pages.retrieve({ page_id: a })).in_trash, true, "a trashed page can still be retrieved");
  });

  test("bad filters are validation errors", async () => {
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId, filter: { property: "Nope", checkbox: { equals: true } } }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId, filter: { property: "Stage", select: { equals: "Done" } } }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId, filter: { timestamp: "last_edited_time", last_edited_time: { on_or_after: "yesterday-ish" } } }), APIErrorCode.ValidationError, 400);
  });

  test("collectAllDataSourceRows reads past the 10,000-row cap", async () => {
    const big = fake.addDatabase({ title: "Big", properties: { Name: { type: "title" } }, token: TOKEN });
    const total = 10_050;
    for (let i = 0; i < total; i += 1) {
      fake.addPage(big.dataSourceId, { properties: { Name: `R${i}` }, createdTime: base + Math.floor(i / 5) * 60_000 });
    }
    const started = performance.now();
    const capped = [];
    let last;
    let cursor;
    do {
      last = await notion.dataSources.query({ data_source_id: big.dataSourceId, start_cursor: cursor });
      capped.push(...last.results);
      cursor = last.next_cursor;
    } while (last.has_more);
    assert.equal(capped.length, 10_000, "plain pagination silently stops at the cap");
    assert.deepEqual(last.request_status, { type: "incomplete", incomplete_reason: "query_result_limit_reached" });
    assert.equal(last.next_cursor, null);

    const all = await collectAllDataSourceRows(notion, { data_source_id: big.dataSourceId });
    assert.equal(all.length, total);
    assert.equal(new Set(all.map((r) => r.id)).size, total);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 15_000, `took ${Math.round(elapsed)} ms`);
  });

  test("a smaller queryResultLimit and limitSignal 'first' still satisfy the SDK", async () => {
    const small = await startFakeNotion({ queryResultLimit: 30, limitSignal: "first" });
    try {
      small.addIntegration(TOKEN);
      const s = small.addDatabase({ title: "S", properties: { Name: { type: "title" } }, token: TOKEN });
      for (let i = 0; i < 75; i += 1) small.addPage(s.dataSourceId, { properties: { Name: `${i}` }, createdTime: base + i * 60_000 });
      const client = clientFor(small, { retry: false });
      const plain = await collectPaginatedAPI(client.dataSources.query, { data_source_id: s.dataSourceId, page_size: 10 });
      assert.equal(plain.length, 30);
      const all = await collectAllDataSourceRows(client, { data_source_id: s.dataSourceId, page_size: 10 });
      assert.equal(all.length, 75);
    } finally {
      await small.close();
    }
  });
});

describe("blocks and files", () => {
  let fake;
  let notion;
  let db;

  before(async () => {
    fake = await startFakeNotion();
    fake.addIntegration(TOKEN);
    db = fake.addDatabase({ title: "Docs", properties: SCHEMA, token: TOKEN });
    notion = clientFor(fake, { retry: false });
  });
  after(() => fake.close());

  test("blocks.children.list paginates, nests and shapes blocks", async () => {
    const id = fake.addPage(db.dataSourceId, {
      properties: { Name: "Doc" },
      children: [
        { heading_1: "Title" },
        { paragraph: [{ text: "bold", bold: true }, " plain"] },
        { bulleted_list_item: "outer", children: [{ paragraph: "inner" }] },
        { image: { file: "photo.png", caption: "cap" } },
        { code: { rich_text: "let x = 1;", language: "rust" } },
      ],
    });
    fake.resetStats();
    const blocks = await collectPaginatedAPI(notion.blocks.children.list, { block_id: id, page_size: 2 });
    assert.equal(fake.stats.byRoute["GET /v1/blocks/:id/children"], 3);
    assert.deepEqual(blocks.map((b) => b.type), ["heading_1", "paragraph", "bulleted_list_item", "image", "code"]);
    assert.equal(blocks[0].heading_1.is_toggleable, false);
    assert.deepEqual(blocks[1].paragraph.rich_text.map((t) => [t.plain_text, t.annotations.bold]), [["bold", true], [" plain", false]]);
    assert.deepEqual(blocks[1].parent, { type: "page_id", page_id: id });
    assert.equal(blocks[2].has_children, true);
    assert.equal(blocks[0].has_children, false);
    assert.equal(blocks[3].image.type, "file");
    assert.equal(blocks[3].image.caption[0].plain_text, "cap");
    assert.equal(blocks[4].code.language, "rust");
    const inner = [];
    for await (const b of iteratePaginatedAPI(notion.blocks.children.list, { block_id: blocks[2].id })) inner.push(b);
    assert.deepEqual(inner.map((b) => b.paragraph.rich_text[0].plain_text), ["inner"]);
    assert.deepEqual(inner[0].parent, { type: "block_id", block_id: blocks[2].id });
    const block = await notion.blocks.retrieve({ block_id: blocks[2].id });
    assert.equal(block.bulleted_list_item.rich_text[0].plain_text, "outer");
    await rejectsWith(notion.blocks.children.list({ block_id: id, start_cursor: "not-a-cursor" }), APIErrorCode.ValidationError, 400);
  });

  test("Notion-hosted files are re-signed on every read; external files are not", async () => {
    const t0 = Date.parse("2024-06-01T12:00:00Z");
    let now = t0;
    fake.setClock(() => now);
    try {
      const id = fake.addPage(db.dataSourceId, {
        properties: { Name: "Files", Cover: [{ file: "cover.png" }, { external: "https://cdn.example.com/a.jpg" }] },
        cover: { file: "banner.png" },
      });
      const read = async () => (await notion.pages.retrieve({ page_id: id }));
      const first = await read();
      now += 5_000;
      const second = await read();
      const [f1, e1] = first.properties.Cover.files;
      const [f2, e2] = second.properties.Cover.files;
      assert.equal(f1.type, "file");
      assert.equal(f1.name, "cover.png");
      const u1 = new URL(f1.file.url);
      const u2 = new URL(f2.file.url);
      assert.equal(u1.pathname, u2.pathname, "same object path");
      assert.ok(u1.pathname.endsWith("/cover.png"));
      assert.notEqual(u1.searchParams.get("X-Amz-Signature"), u2.searchParams.get("X-Amz-Signature"));
      assert.equal(u1.searchParams.get("X-Amz-Date"), "20240601T120000Z");
      assert.equal(u2.searchParams.get("X-Amz-Date"), "20240601T120005Z");
      assert.equal(f1.file.expiry_time, "2024-06-01T13:00:00.000Z", "one hour ahead");
      assert.equal(f2.file.expiry_time, "2024-06-01T13:00:05.000Z");
      assert.deepEqual(e1, e2);
      assert.equal(e1.external.url, "https://cdn.example.com/a.jpg");
      assert.notEqual(first.cover.file.url, second.cover.file.url);
      const third = new URL((await read()).properties.Cover.files[0].file.url);
      assert.equal(third.searchParams.get("X-Amz-Date"), u2.searchParams.get("X-Amz-Date"));
      assert.notEqual(third.searchParams.get("X-Amz-Signature"), u2.searchParams.get("X-Amz-Signature"), "fresh even within one second");

      const download = await fetch(f2.file.url);
      assert.equal(download.status, 200);
      assert.equal(download.headers.get("content-type"), "image/png");
      const bytes = Buffer.from(await download.arrayBuffer());
      assert.equal(bytes.subarray(1, 4).toString(), "PNG");
      now += 2 * 3_600_000;
      const expired = await fetch(f2.file.url);
      assert.equal(expired.status, 403);
      assert.match(await expired.text(), /expired/);
      const tampered = new URL(f2.file.url);
      tampered.searchParams.set("X-Amz-Signature", "0".repeat(64));
      assert.equal((await fetch(tampered)).status, 403);
    } finally {
      fake.setClock(null);
    }
  });

  test("external URLs and url values are served as typed: scheme-less or unparseable ones too", async () => {
    // Notion keeps what the user typed ("www.example.com/c.png" for a cover, free text in a URL
    // property); cleaning it up is the reader's job.
    const links = fake.addDatabase({
      title: "Links",
      properties: { Name: { type: "title" }, Site: { type: "url" }, Cover: { type: "files" } },
      token: TOKEN,
    });
    const id = fake.addPage(links.dataSourceId, {
      properties: {
        Name: "Typed by hand",
        Site: "www.example.com/about us",
        Cover: [{ external: "www.example.com/c.png" }, { external: "https://exa mple.com/c.png" }],
      },
      cover: { external: "www.example.com/banner.png" },
    });
    const page = await notion.pages.retrieve({ page_id: id });
    assert.equal(page.properties.Site.url, "www.example.com/about us");
    assert.deepEqual(page.properties.Cover.files, [
      { name: "c.png", type: "external", external: { url: "www.example.com/c.png" } },
      { name: "c.png", type: "external", external: { url: "https://exa mple.com/c.png" } },
    ]);
    assert.deepEqual(page.cover, { type: "external", external: { url: "www.example.com/banner.png" } });
    const [row] = (await notion.dataSources.query({ data_source_id: links.dataSourceId })).results;
    assert.deepEqual(row.properties.Cover, page.properties.Cover);
  });

  test("schema edits: rename keeps the id, add and remove", async () => {
    const s = fake.addDatabase({ title: "Schema", properties: { Name: { type: "title" }, Old: { type: "rich_text" } }, token: TOKEN });
    const id = fake.addPage(s.dataSourceId, { properties: { Name: "x", Old: "kept" } });
    const before = await notion.dataSources.retrieve({ data_source_id: s.dataSourceId });
    fake.renameProperty(s.dataSourceId, "Old", "New");
    const extraId = fake.addProperty(s.dataSourceId, "Extra", { type: "number" });
    const after = await notion.dataSources.retrieve({ data_source_id: s.dataSourceId });
    assert.equal(after.properties.New.id, before.properties.Old.id);
    assert.equal(after.properties.Extra.id, extraId);
    const page = await notion.pages.retrieve({ page_id: id });
    assert.equal(page.properties.New.rich_text[0].plain_text, "kept");
    assert.equal(page.properties.Extra.number, null);
    fake.removeProperty(s.dataSourceId, "New");
    const final = await notion.pages.retrieve({ page_id: id });
    assert.deepEqual(Object.keys(final.properties).sort(), ["Extra", "Name"]);
  });
});

describe("errors", () => {
  let fake;
  let db;
  let page;

  before(async () => {
    fake = await startFakeNotion();
    fake.addIntegration(TOKEN);
    db = fake.addDatabase({ title: "E", properties: { Name: { type: "title" } }, token: TOKEN });
    page = fake.addPage(db.dataSourceId, { properties: { Name: "p" }, children: [{ paragraph: "x" }] });
  });
  after(() => fake.close());

  test("unknown and revoked tokens are unauthorized", async () => {
    const stranger = new Client({ auth: "ntn_unknown", baseUrl: fake.url, logger: quiet, retry: false });
    await rejectsWith(stranger.databases.retrieve({ database_id: db.databaseId }), APIErrorCode.Unauthorized, 401);
    fake.addIntegration("ntn_short_lived");
    fake.share(db.databaseId, "ntn_short_lived");
    const shortLived = new Client({ auth: "ntn_short_lived", baseUrl: fake.url, logger: quiet, retry: false });
    await shortLived.databases.retrieve({ database_id: db.databaseId });
    fake.revoke("ntn_short_lived");
    await rejectsWith(shortLived.databases.retrieve({ database_id: db.databaseId }), APIErrorCode.Unauthorized, 401);
  });

  test("unshared and unknown objects are object_not_found", async () => {
    const notion = clientFor(fake, { retry: false });
    const other = fake.addDatabase({ title: "Private", properties: { Name: { type: "title" } }, token: TOKEN });
    const otherPage = fake.addPage(other.dataSourceId, { properties: { Name: "secret" }, children: [{ paragraph: "s" }] });
    await notion.pages.retrieve({ page_id: otherPage });
    fake.unshare(other.databaseId);
    await rejectsWith(notion.databases.retrieve({ database_id: other.databaseId }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.dataSources.retrieve({ data_source_id: other.dataSourceId }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.dataSources.query({ data_source_id: other.dataSourceId }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.pages.retrieve({ page_id: otherPage }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.blocks.children.list({ block_id: otherPage }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.pages.retrieve({ page_id: "00000000-0000-4000-8000-000000000000" }), APIErrorCode.ObjectNotFound, 404);
    await rejectsWith(notion.databases.retrieve({ database_id: db.dataSourceId }), APIErrorCode.ObjectNotFound, 404);
  });

  test("page_size over 100 and malformed ids are validation errors", async () => {
    const notion = clientFor(fake, { retry: false });
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId, page_size: 101 }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.blocks.children.list({ block_id: page, page_size: 101 }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.pages.retrieve({ page_id: "not-a-uuid" }), APIErrorCode.ValidationError, 400);
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId, start_cursor: "bogus" }), APIErrorCode.ValidationError, 400);
  });

  test("raw HTTP: missing Notion-Version, invalid JSON, unknown URL", async () => {
    const call = async (path, init = {}) => {
      const res = await fetch(`${fake.url}${path}`, init);
      return { status: res.status, body: await res.json(), requestId: res.headers.get("x-notion-request-id") };
    };
    const auth = { authorization: `Bearer ${TOKEN}` };
    const missing = await call(`/v1/databases/${db.databaseId}`, { headers: auth });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.object, "error");
    assert.equal(missing.body.status, 400);
    assert.equal(missing.body.code, "missing_version");
    assert.equal(missing.body.request_id, missing.requestId);
    const headers = { ...auth, "notion-version": "2025-09-03", "content-type": "application/json" };
    const badJson = await call(`/v1/data_sources/${db.dataSourceId}/query`, { method: "POST", headers, body: "{" });
    assert.deepEqual([badJson.status, badJson.body.code], [400, "invalid_json"]);
    const unknown = await call("/v1/nowhere", { headers });
    assert.deepEqual([unknown.status, unknown.body.code], [400, "invalid_request_url"]);
    const newer = await call(`/v1/pages/${page}`, { headers: { ...headers, "notion-version": "2026-03-11" } });
    assert.equal(newer.status, 200);
    assert.equal("archived" in newer.body, false, "2026-03-11 drops archived");
    assert.equal(newer.body.in_trash, false);
  });

  test("injected 5xx: the SDK retries GET but not the POST query", async () => {
    const notion = clientFor(fake, { retry: { maxRetries: 2, initialRetryDelayMs: 5, maxRetryDelayMs: 20 } });
    fake.resetStats();
    fake.failNext({ status: 503 });
    await notion.databases.retrieve({ database_id: db.databaseId });
    assert.equal(fake.stats.byRoute["GET /v1/databases/:id"], 2);
    assert.equal(fake.stats.injected, 1);

    fake.failNext({ status: 500, match: "POST /v1/data_sources/:id/query" });
    await rejectsWith(notion.dataSources.query({ data_source_id: db.dataSourceId }), APIErrorCode.InternalServerError, 500);
    assert.equal(fake.stats.byRoute["POST /v1/data_sources/:id/query"], 1);

    fake.failNext({ status: 529, times: 2, retryAfter: 0 });
    const result = await notion.dataSources.query({ data_source_id: db.dataSourceId });
    assert.equal(result.results.length, 1, "service_overload is retried even for POST");
    assert.equal(fake.stats.byRoute["POST /v1/data_sources/:id/query"], 4);

    fake.failNext({ status: 502, body: "<html>Bad gateway</html>" });
    await assert.rejects(notion.pages.retrieve({ page_id: page }), (err) => {
      assert.ok(err instanceof UnknownHTTPResponseError);
      assert.equal(err.code, ClientErrorCode.ResponseError);
      assert.equal(err.status, 502);
      return true;
    });
    fake.failNext({ status: 502 });
    await assert.rejects(notion.pages.retrieve({ page_id: page }), (err) => {
      // bad_gateway is not one of the SDK's APIErrorCodes, so it surfaces as an unknown response.
      assert.ok(err instanceof UnknownHTTPResponseError);
      assert.match(err.body, /"code":"bad_gateway"/);
      return true;
    });
  });
});

describe("rate limit", () => {
  let fake;
  let db;

  before(async () => {
    fake = await startFakeNotion({ rateLimit: { requestsPerSecond: 2, burst: 2 } });
    fake.addIntegration(TOKEN);
    fake.addIntegration("ntn_other");
    db = fake.addDatabase({ title: "R", properties: { Name: { type: "title" } }, token: [TOKEN, "ntn_other"] });
  });
  after(() => fake.close());

  test("over the bucket: 429 rate_limited with an integer Retry-After; buckets are per token", async () => {
    const notion = clientFor(fake, { retry: false });
    await notion.databases.retrieve({ database_id: db.databaseId });
    await notion.databases.retrieve({ database_id: db.databaseId });
    await assert.rejects(notion.databases.retrieve({ database_id: db.databaseId }), (err) => {
      assert.ok(err instanceof APIResponseError);
      assert.equal(err.code, APIErrorCode.RateLimited);
      assert.equal(err.status, 429);
      assert.match(err.headers.get("retry-after"), /^[1-9]\d*$/);
      return true;
    });
    assert.equal(fake.stats.rateLimited, 1);
    const other = new Client({ auth: "ntn_other", baseUrl: fake.url, logger: quiet, retry: false });
    await other.databases.retrieve({ database_id: db.databaseId });
  });

  test("page property reads spend the same bucket", async () => {
    fake.setRateLimit({ requestsPerSecond: 2, burst: 2 });
    fake.resetStats();
    const notion = clientFor(fake, { retry: false });
    const id = fake.addPage(db.dataSourceId, { properties: { Name: "Bucket" } });
    const read = () => notion.pages.properties.retrieve({ page_id: id, property_id: "title" });
    await read();
    await read();
    await rejectsWith(read(), APIErrorCode.RateLimited, 429);
    assert.equal(fake.stats.rateLimited, 1);
  });

  test("the SDK waits Retry-After and succeeds", async () => {
    fake.setRateLimit({ requestsPerSecond: 2, burst: 2 });
    fake.resetStats();
    const notion = clientFor(fake);
    const started = performance.now();
    for (let i = 0; i < 4; i += 1) await notion.databases.retrieve({ database_id: db.databaseId });
    const elapsed = performance.now() - started;
    assert.ok(fake.stats.rateLimited >= 1);
    assert.equal(fake.stats.byStatus[200], 4);
    assert.ok(elapsed >= 900, `waited ${Math.round(elapsed)} ms`);
  });
});

describe("Notion-hosted files: expiry, replacement and failures", () => {
  let fake;
  let notion;
  let db;

  before(async () => {
    fake = await startFakeNotion();
    fake.addIntegration(TOKEN);
    db = fake.addDatabase({ title: "Media", properties: SCHEMA, token: TOKEN });
    notion = clientFor(fake, { retry: false });
  });
  after(() => fake.close());

  const download = async (url) => {
    const response = await fetch(url);
    return { status: response.status, type: response.headers.get("content-type"), body: Buffer.from(await response.arrayBuffer()) };
  };

  /** A page with a hosted file in every place Notion puts one, and its signed URLs as read now. */
  async function mediaPage() {
    const id = fake.addPage(db.dataSourceId, {
      properties: { Name: "Media", Cover: [{ file: "photo.png" }, { external: "https://cdn.example.com/e.jpg" }] },
      cover: { file: "banner.png" },
      icon: { file: "icon.png" },
      children: [
        { image: { file: "body.png", caption: "A body image" } },
        { file: { file: "Spec v2.pdf", content: "%PDF-1.4 spec\n", name: "Spec" } },
        { pdf: { file: "paper.pdf", content: "%PDF-1.4 paper\n" } },
      ],
    });
    return { id, ...(await urlsOf(id)) };
  }

  async function urlsOf(id) {
    const page = await notion.pages.retrieve({ page_id: id });
    const blocks = await collectPaginatedAPI(notion.blocks.children.list, { block_id: id });
    return {
      page,
      blocks,
      urls: {
        property: page.properties.Cover.files[0].file.url,
        cover: page.cover.file.url,
        icon: page.icon.file.url,
        image: blocks[0].image.file.url,
        file: blocks[1].file.file.url,
        pdf: blocks[2].pdf.file.url,
      },
    };
  }

  test("every hosted file is served by the fake under a presigned URL that each read re-signs", async () => {
    const { id, urls, blocks } = await mediaPage();
    for (const [where, url] of Object.entries(urls)) {
      const parsed = new URL(url);
      assert.ok(url.startsWith(`${fake.fileBaseUrl}/`), where);
      assert.equal(parsed.searchParams.get("X-Amz-Expires"), "3600", where);
      assert.match(parsed.searchParams.get("X-Amz-Signature"), /^[0-9a-f]{64}$/u, where);
      assert.equal((await download(url)).status, 200, where);
    }
    assert.equal(blocks[0].image.caption[0].plain_text, "A body image");
    assert.equal(blocks[1].file.name, "Spec");
    assert.deepEqual((await download(urls.file)).body, Buffer.from("%PDF-1.4 spec\n"));
    assert.equal((await download(urls.pdf)).type, "application/pdf");
    const again = (await urlsOf(id)).urls;
    for (const where of Object.keys(urls)) {
      assert.notEqual(again[where], urls[where], `${where} is re-signed`);
      assert.equal(fake.fileKey(again[where]), fake.fileKey(urls[where]), `${where} keeps its path`);
    }
    assert.equal(fake.fileKey("https://cdn.example.com/e.jpg"), null);
    const hosted = fake.hostedFiles().filter((file) => file.pageId === id);
    assert.deepEqual(hosted.map((file) => file.where).sort(), ["Cover", "cover", "file", "icon", "image", "pdf"]);
    assert.ok(hosted.every((file) => file.size > 0));
  });

  test("expireFileUrls makes every URL issued so far answer 403 AccessDenied; a new read works", async () => {
    const { id, urls } = await mediaPage();
    fake.expireFileUrls();
    for (const [where, url] of Object.entries(urls)) {
      const expired = await download(url);
      assert.equal(expired.status, 403, where);
      assert.match(expired.body.toString(), /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/u, where);
    }
    const fresh = (await urlsOf(id)).urls;
    for (const [where, url] of Object.entries(fresh)) assert.equal((await download(url)).status, 200, where);
  });

  test("replaceFile gives new content at a new path and edits the page; old URLs serve the old bytes", async () => {
    const t0 = Date.parse("2024-06-01T12:00:00Z");
    fake.setClock(() => t0);
    try {
      const { id, urls, page } = await mediaPage();
      const before = await download(urls.property);
      fake.setClock(() => t0 + 5 * 60_000);
      const newKey = fake.replaceFile(urls.property, { content: "new bytes", contentType: "image/png" });
      const after = await urlsOf(id);
      assert.equal(fake.fileKey(after.urls.property), newKey);
      assert.notEqual(new URL(after.urls.property).pathname, new URL(urls.property).pathname);
      assert.deepEqual((await download(after.urls.property)).body, Buffer.from("new bytes"));
      assert.deepEqual((await download(urls.property)).body, before.body, "a URL signed before still serves what it named");
      assert.equal(after.page.properties.Cover.files[0].name, "photo.png");
      assert.equal(page.last_edited_time, "2024-06-01T12:00:00.000Z");
      assert.equal(after.page.last_edited_time, "2024-06-01T12:05:00.000Z");
      // Everything else on the page kept its path.
      for (const where of ["cover", "icon", "image", "file", "pdf"]) {
        assert.equal(fake.fileKey(after.urls[where]), fake.fileKey(urls[where]), where);
      }

      fake.setClock(() => t0 + 10 * 60_000);
      fake.replaceFile(fake.fileKey(urls.image), { file: "other.jpg", content: "jpeg" });
      const third = await urlsOf(id);
      assert.ok(new URL(third.urls.image).pathname.endsWith("/other.jpg"));
      assert.equal((await download(third.urls.image)).type, "image/jpeg");
      assert.equal(third.blocks[0].last_edited_time, "2024-06-01T12:10:00.000Z");
      assert.equal(third.page.last_edited_time, "2024-06-01T12:10:00.000Z");
    } finally {
      fake.setClock(null);
    }
  });

  test("failFile makes one file answer 404 NoSuchKey (or another status) until restoreFile", async () => {
    const { id, urls } = await mediaPage();
    fake.failFile(urls.image);
    fake.failFile(urls.file, 403);
    const fresh = (await urlsOf(id)).urls;
    const missing = await download(fresh.image);
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /<Code>NoSuchKey<\/Code>/u);
    assert.equal((await download(fresh.file)).status, 403);
    assert.equal((await download(fresh.cover)).status, 200, "the other files still answer");
    fake.restoreFile(urls.image);
    assert.equal((await download(fresh.image)).status, 200);
    assert.throws(() => fake.failFile("https://cdn.example.com/e.jpg"), /not a Notion-hosted file/u);
  });
});
