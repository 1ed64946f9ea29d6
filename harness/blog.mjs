// A blog's three Notion databases, as the site tests and the site benchmark use them: Authors,
// Tags, and Posts relating to both. Empty: each caller adds the pages it needs.

/** Adds the three databases to a fake Notion, shared with `token`. */
export function addBlogDatabases(notion, token) {
  const authors = notion.addDatabase({ title: "Authors", properties: { Name: { type: "title" } }, token });
  const tags = notion.addDatabase({ title: "Tags", properties: { Name: { type: "title" } }, token });
  const posts = notion.addDatabase({
    title: "Posts",
    properties: {
      Title: { type: "title" },
      Authors: { type: "relation", dataSourceId: authors.dataSourceId },
      Tags: { type: "relation", dataSourceId: tags.dataSourceId },
    },
    token,
  });
  return { authors, tags, posts };
}
