//! Notion rich text and page bodies rendered to HTML for a Framer `formattedText` field.
//!
//! Input is the raw JSON the Notion API returns. Everything is read defensively: a missing or
//! odd field renders as nothing rather than failing, because one strange block must not stop a
//! whole sync. All text and attribute values are HTML-escaped.

use serde_json::Value;

/// Escapes text for use both in element content and inside double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Returns the URL if it is safe to put in an `href`/`src`: http(s), mailto, tel, or relative.
///
/// Notion accepts any string as a link, so `javascript:` and friends must be dropped here.
pub fn safe_url(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let scheme_end = url.find(':');
    let path_start = url.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, path_start) {
        (Some(colon), Some(path)) => colon < path,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !has_scheme {
        return Some(url);
    }
    let lower = url.to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:", "tel:"]
        .iter()
        .any(|prefix| lower.starts_with(prefix));
    allowed.then_some(url)
}

/// Concatenates the plain text of a Notion rich-text array (non-arrays give "").
pub fn rich_text_plain(rich_text: &Value) -> String {
    segments(rich_text).map(segment_plain).collect()
}

/// Renders a Notion rich-text array as inline HTML.
///
/// Annotations become `<code>`, `<strong>`, `<em>`, `<s>`, `<u>` (colors are dropped), links
/// become `<a href>`, mentions render as their plain text, equations as `<code>`, and soft
/// line breaks inside a segment become `<br>`.
pub fn rich_text_html(rich_text: &Value) -> String {
    segments(rich_text).map(segment_html).collect()
}

fn segments(rich_text: &Value) -> impl Iterator<Item = &Value> {
    rich_text.as_array().into_iter().flatten()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn segment_plain(segment: &Value) -> &str {
    str_at(segment, "/plain_text")
        .or_else(|| str_at(segment, "/text/content"))
        .or_else(|| str_at(segment, "/equation/expression"))
        .unwrap_or("")
}

fn segment_html(segment: &Value) -> String {
    let kind = str_at(segment, "/type").unwrap_or("");
    let text = match kind {
        "text" => str_at(segment, "/text/content").unwrap_or_else(|| segment_plain(segment)),
        "equation" => {
            str_at(segment, "/equation/expression").unwrap_or_else(|| segment_plain(segment))
        }
        _ => segment_plain(segment),
    };
    if text.is_empty() {
        return String::new();
    }
    let mut html = escape_html(text).replace('\n', "<br>");
    if kind == "equation" {
        html = wrap("code", &html);
    }
    html = annotate(segment, kind, html);
    match segment_link(segment, kind).and_then(safe_url) {
        Some(url) => format!("<a href=\"{}\">{html}</a>", escape_html(url)),
        None => html,
    }
}

fn annotate(segment: &Value, kind: &str, mut html: String) -> String {
    let flag = |name: &str| {
        segment
            .pointer(&format!("/annotations/{name}"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    // An equation is already wrapped in <code>; a second one would only nest.
    if flag("code") && kind != "equation" {
        html = wrap("code", &html);
    }
    for (name, tag) in [
        ("bold", "strong"),
        ("italic", "em"),
        ("strikethrough", "s"),
        ("underline", "u"),
    ] {
        if flag(name) {
            html = wrap(tag, &html);
        }
    }
    html
}

/// The link target of a segment. Page, user and date mentions carry Notion-internal hrefs that
/// mean nothing on a public site, so only link mentions keep theirs.
fn segment_link<'a>(segment: &'a Value, kind: &str) -> Option<&'a str> {
    let href = || str_at(segment, "/href");
    match (kind, str_at(segment, "/mention/type")) {
        ("text", _) => str_at(segment, "/text/link/url").or_else(href),
        ("mention", Some("link_preview")) => {
            str_at(segment, "/mention/link_preview/url").or_else(href)
        }
        ("mention", Some("link_mention")) => {
            str_at(segment, "/mention/link_mention/href").or_else(href)
        }
        _ => None,
    }
}

fn wrap(tag: &str, inner: &str) -> String {
    format!("<{tag}>{inner}</{tag}>")
}

/// One Notion block with its children already fetched (Notion lists children per level).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlockNode {
    /// The block object exactly as `GET /v1/blocks/{id}/children` returned it.
    pub block: Value,
    /// The block's children, in order (empty when `has_children` is false).
    pub children: Vec<BlockNode>,
}

impl BlockNode {
    /// A block without children.
    pub fn leaf(block: Value) -> Self {
        Self {
            block,
            children: Vec::new(),
        }
    }

    fn kind(&self) -> &str {
        str_at(&self.block, "/type").unwrap_or("")
    }

    /// The type-specific payload, e.g. `block.paragraph` for a paragraph.
    fn content(&self) -> &Value {
        self.block.get(self.kind()).unwrap_or(&Value::Null)
    }

    fn rich_text(&self) -> &Value {
        self.content().get("rich_text").unwrap_or(&Value::Null)
    }

    fn flag(&self, name: &str) -> bool {
        self.content()
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Renders a page's block tree as HTML.
pub fn render_blocks(blocks: &[BlockNode]) -> String {
    render_blocks_with_report(blocks).0
}

/// Renders a page's block tree as HTML and also returns the block types that were not
/// rendered (unsupported types, or blocks missing what they need), each listed once in order of
/// first appearance.
pub fn render_blocks_with_report(blocks: &[BlockNode]) -> (String, Vec<String>) {
    let mut renderer = Renderer::default();
    let html = renderer.nodes(blocks);
    (html, renderer.skipped)
}

#[derive(Default)]
struct Renderer {
    skipped: Vec<String>,
}

impl Renderer {
    /// Renders siblings, grouping consecutive list items of one kind into a single list.
    fn nodes(&mut self, nodes: &[BlockNode]) -> String {
        nodes
            .chunk_by(|a, b| list_tag(a.kind()).is_some() && a.kind() == b.kind())
            .map(|run| match list_tag(run[0].kind()) {
                Some(tag) => self.list(tag, run),
                None => run.iter().map(|node| self.node(node)).collect(),
            })
            .collect()
    }

    fn node(&mut self, node: &BlockNode) -> String {
        match node.kind() {
            "paragraph" => self.paragraph(node),
            "heading_1" => self.heading(node, 1),
            "heading_2" => self.heading(node, 2),
            "heading_3" => self.heading(node, 3),
            "heading_4" => self.heading(node, 4),
            "quote" => self.quote(node, "<blockquote>", ""),
            "callout" => self.quote(node, "<blockquote class=\"callout\">", &callout_icon(node)),
            "toggle" => self.details(&rich_text_html(node.rich_text()), &node.children),
            "code" => code_block(node),
            "equation" => equation_block(node),
            "divider" => "<hr>".to_owned(),
            "image" => self.image(node),
            "bookmark" | "embed" | "link_preview" | "video" | "audio" | "pdf" | "file" => {
                self.media_link(node)
            }
            "table" => self.table(node),
            "column_list" | "column" | "synced_block" => self.nodes(&node.children),
            "child_page" | "child_database" => title_block(node),
            other => self.skip(other),
        }
    }

    fn skip(&mut self, kind: &str) -> String {
        let kind = if kind.is_empty() { "(no type)" } else { kind };
        if !self.skipped.iter().any(|seen| seen == kind) {
            self.skipped.push(kind.to_owned());
        }
        String::new()
    }

    /// Empty paragraphs are Notion's way of adding vertical space; they carry no content.
    fn paragraph(&mut self, node: &BlockNode) -> String {
        let text = rich_text_html(node.rich_text());
        let children = self.nodes(&node.children);
        if text.is_empty() {
            return children;
        }
        format!("<p>{text}</p>{children}")
    }

    fn heading(&mut self, node: &BlockNode, level: u8) -> String {
        let heading = format!("<h{level}>{}</h{level}>", rich_text_html(node.rich_text()));
        if node.flag("is_toggleable") {
            return self.details(&heading, &node.children);
        }
        heading + &self.nodes(&node.children)
    }

    fn details(&mut self, summary: &str, children: &[BlockNode]) -> String {
        format!(
            "<details><summary>{summary}</summary>{}</details>",
            self.nodes(children)
        )
    }

    fn quote(&mut self, node: &BlockNode, open: &str, prefix: &str) -> String {
        let text = rich_text_html(node.rich_text());
        let children = self.nodes(&node.children);
        format!("{open}<p>{prefix}{text}</p>{children}</blockquote>")
    }

    fn list(&mut self, tag: &str, items: &[BlockNode]) -> String {
        let open = match tag {
            "ol" => ordered_list_open(&items[0]),
            _ => format!("<{tag}>"),
        };
        let body: String = items.iter().map(|item| self.list_item(item)).collect();
        format!("{open}{body}</{tag}>")
    }

    fn list_item(&mut self, item: &BlockNode) -> String {
        // A checkbox character survives any sanitiser, unlike <input>.
        let marker = match (item.kind(), item.flag("checked")) {
            ("to_do", true) => "\u{2611} ",
            ("to_do", false) => "\u{2610} ",
            _ => "",
        };
        let text = rich_text_html(item.rich_text());
        let children = self.nodes(&item.children);
        format!("<li>{marker}{text}{children}</li>")
    }

    fn image(&mut self, node: &BlockNode) -> String {
        let Some(url) = media_url(node.content()) else {
            return self.skip("image");
        };
        let caption = node.content().get("caption").unwrap_or(&Value::Null);
        let img = format!(
            "<img src=\"{}\" alt=\"{}\">",
            escape_html(url),
            escape_html(&rich_text_plain(caption))
        );
        match rich_text_html(caption) {
            html if html.is_empty() => format!("<figure>{img}</figure>"),
            html => format!("<figure>{img}<figcaption>{html}</figcaption></figure>"),
        }
    }

    fn media_link(&mut self, node: &BlockNode) -> String {
        let content = node.content();
        let Some(url) = media_url(content) else {
            return self.skip(node.kind());
        };
        let caption = rich_text_html(content.get("caption").unwrap_or(&Value::Null));
        let label = match (caption.is_empty(), str_at(content, "/name")) {
            (false, _) => caption,
            (true, Some(name)) if !name.is_empty() => escape_html(name),
            _ => escape_html(url),
        };
        format!("<p><a href=\"{}\">{label}</a></p>", escape_html(url))
    }

    fn table(&mut self, node: &BlockNode) -> String {
        let row_header = node.flag("has_row_header");
        let mut rows = Vec::new();
        for child in &node.children {
            match child.content().get("cells").and_then(Value::as_array) {
                Some(cells) if child.kind() == "table_row" => rows.push(cells),
                _ => {
                    self.skip(child.kind());
                }
            }
        }
        let (head, body) = match rows.split_first() {
            Some((first, rest)) if node.flag("has_column_header") => (Some(*first), rest),
            _ => (None, rows.as_slice()),
        };
        let head = head.map_or(String::new(), |cells| {
            format!("<thead>{}</thead>", table_row(cells, true, row_header))
        });
        let body: String = body
            .iter()
            .map(|cells| table_row(cells, false, row_header))
            .collect();
        format!("<table>{head}<tbody>{body}</tbody></table>")
    }
}

/// The list element a block kind belongs to, if it is a list item.
fn list_tag(kind: &str) -> Option<&'static str> {
    match kind {
        "bulleted_list_item" | "to_do" => Some("ul"),
        "numbered_list_item" => Some("ol"),
        _ => None,
    }
}

/// `<ol>` honouring the first item's `list_start_index` and `list_format` (letters, roman).
fn ordered_list_open(first: &BlockNode) -> String {
    let start = match first
        .content()
        .get("list_start_index")
        .and_then(Value::as_u64)
    {
        Some(start) if start != 1 => format!(" start=\"{start}\""),
        _ => String::new(),
    };
    let numbering = match str_at(first.content(), "/list_format") {
        Some("letters") => " type=\"a\"",
        Some("roman") => " type=\"i\"",
        _ => "",
    };
    format!("<ol{start}{numbering}>")
}

fn table_row(cells: &[Value], header_row: bool, row_header: bool) -> String {
    let cells: String = cells
        .iter()
        .enumerate()
        .map(|(index, cell)| {
            let tag = if header_row || (row_header && index == 0) {
                "th"
            } else {
                "td"
            };
            wrap(tag, &rich_text_html(cell))
        })
        .collect();
    format!("<tr>{cells}</tr>")
}

/// Only emoji icons render as text; file and custom-emoji icons are images we do not inline.
fn callout_icon(node: &BlockNode) -> String {
    match str_at(node.content(), "/icon/emoji") {
        Some(emoji) if !emoji.is_empty() => format!("{} ", escape_html(emoji)),
        _ => String::new(),
    }
}

fn code_block(node: &BlockNode) -> String {
    let content = node.content();
    let language = str_at(content, "/language").unwrap_or("plain text");
    let class = escape_html(&language.replace(char::is_whitespace, "-"));
    let code = escape_html(&rich_text_plain(node.rich_text()));
    let pre = format!("<pre><code class=\"language-{class}\">{code}</code></pre>");
    match rich_text_html(content.get("caption").unwrap_or(&Value::Null)) {
        caption if caption.is_empty() => pre,
        caption => format!("<figure>{pre}<figcaption>{caption}</figcaption></figure>"),
    }
}

fn equation_block(node: &BlockNode) -> String {
    let expression = str_at(node.content(), "/expression").unwrap_or("");
    format!("<p><code>{}</code></p>", escape_html(expression))
}

fn title_block(node: &BlockNode) -> String {
    let title = str_at(node.content(), "/title").unwrap_or("");
    format!("<p>{}</p>", escape_html(title))
}

/// The URL of a media block: Notion-hosted (`file.url`), external (`external.url`), or the plain
/// `url` of bookmarks, embeds and link previews. Unsafe schemes count as missing.
fn media_url(content: &Value) -> Option<&str> {
    let url = match str_at(content, "/type") {
        Some("file") => str_at(content, "/file/url"),
        Some("external") => str_at(content, "/external/url"),
        _ => str_at(content, "/url"),
    };
    url.and_then(safe_url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn text(content: &str) -> Value {
        json!({
            "type": "text",
            "text": {"content": content, "link": null},
            "annotations": {"bold": false, "italic": false, "strikethrough": false,
                            "underline": false, "code": false, "color": "default"},
            "plain_text": content,
            "href": null
        })
    }

    #[test]
    fn plain_text_concatenates_segments() {
        let rt = json!([text("Hello, "), text("world")]);
        assert_eq!(rich_text_plain(&rt), "Hello, world");
        assert_eq!(rich_text_plain(&json!(null)), "");
    }

    #[test]
    fn annotations_nest_in_a_fixed_order() {
        let mut seg = text("x < y");
        seg["annotations"]["bold"] = json!(true);
        seg["annotations"]["italic"] = json!(true);
        seg["annotations"]["code"] = json!(true);
        assert_eq!(
            rich_text_html(&json!([seg])),
            "<em><strong><code>x &lt; y</code></strong></em>"
        );
    }

    #[test]
    fn links_come_from_text_link_or_href() {
        let mut a = text("docs");
        a["text"]["link"] = json!({"url": "https://example.com/?a=1&b=\"2\""});
        let mut b = text("site");
        b["href"] = json!("https://example.org/");
        assert_eq!(
            rich_text_html(&json!([a, b])),
            "<a href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\">docs</a>\
             <a href=\"https://example.org/\">site</a>"
        );
    }

    #[test]
    fn unsafe_links_render_as_text() {
        let mut a = text("click");
        a["text"]["link"] = json!({"url": "JavaScript:alert(1)"});
        assert_eq!(rich_text_html(&json!([a])), "click");
    }

    #[test]
    fn mentions_and_equations() {
        let page = json!({
            "type": "mention",
            "mention": {"type": "page", "page": {"id": "abc"}},
            "annotations": {"bold": true},
            "plain_text": "My <Page>",
            "href": "https://www.notion.so/abc"
        });
        let eq = json!({
            "type": "equation",
            "equation": {"expression": "a^2 < b"},
            "annotations": {"code": true},
            "plain_text": "a^2 < b",
            "href": null
        });
        let link = json!({
            "type": "mention",
            "mention": {"type": "link_preview", "link_preview": {"url": "https://github.com/x"}},
            "plain_text": "https://github.com/x",
            "href": "https://github.com/x"
        });
        assert_eq!(
            rich_text_html(&json!([page, eq, link])),
            "<strong>My &lt;Page&gt;</strong><code>a^2 &lt; b</code>\
             <a href=\"https://github.com/x\">https://github.com/x</a>"
        );
    }

    #[test]
    fn soft_line_breaks_become_br() {
        assert_eq!(rich_text_html(&json!([text("a\nb")])), "a<br>b");
    }

    #[test]
    fn odd_json_never_panics() {
        for odd in [json!(1), json!([1, null, {}]), json!([{"type": "text"}])] {
            assert_eq!(rich_text_html(&odd), "");
        }
    }

    #[test]
    fn safe_url_accepts_web_and_relative_links_only() {
        assert_eq!(safe_url(" https://a.b/c "), Some("https://a.b/c"));
        assert_eq!(safe_url("/1f2e3d"), Some("/1f2e3d"));
        assert_eq!(safe_url("#top"), Some("#top"));
        assert_eq!(safe_url("mailto:a@b.c"), Some("mailto:a@b.c"));
        assert_eq!(safe_url("path/with:colon"), Some("path/with:colon"));
        assert_eq!(safe_url("data:text/html,x"), None);
        assert_eq!(safe_url("vbscript:x"), None);
        assert_eq!(safe_url(""), None);
    }

    /// A block as `GET /v1/blocks/{id}/children` returns it, with the common fields filled in.
    fn block(kind: &str, content: Value) -> Value {
        let mut block = json!({
            "object": "block",
            "id": "59833787-2cf9-4fdf-8782-e53db20768a5",
            "parent": {"type": "page_id", "page_id": "255104cd-b2f6-4f5a-8b5b-7b1c9d0f1e2a"},
            "created_time": "2025-01-10T10:00:00.000Z",
            "last_edited_time": "2025-01-10T10:05:00.000Z",
            "has_children": false,
            "in_trash": false,
            "type": kind
        });
        block[kind] = content;
        block
    }

    fn rt_block(kind: &str, content: &str) -> BlockNode {
        BlockNode::leaf(block(
            kind,
            json!({"rich_text": [text(content)], "color": "default"}),
        ))
    }

    fn with_children(mut node: BlockNode, children: Vec<BlockNode>) -> BlockNode {
        node.block["has_children"] = json!(true);
        node.children = children;
        node
    }

    #[test]
    fn paragraphs_and_headings() {
        let mut toggle_heading = rt_block("heading_2", "More");
        toggle_heading.block["heading_2"]["is_toggleable"] = json!(true);
        let blocks = vec![
            rt_block("heading_1", "Title & co"),
            rt_block("paragraph", "Body"),
            BlockNode::leaf(block(
                "paragraph",
                json!({"rich_text": [], "color": "default"}),
            )),
            rt_block("heading_4", "Small"),
            with_children(toggle_heading, vec![rt_block("paragraph", "Hidden")]),
        ];
        assert_eq!(
            render_blocks(&blocks),
            "<h1>Title &amp; co</h1><p>Body</p><h4>Small</h4>\
             <details><summary><h2>More</h2></summary><p>Hidden</p></details>"
        );
    }

    #[test]
    fn consecutive_list_items_share_one_list_and_nest() {
        let mut third = rt_block("numbered_list_item", "three");
        third.block["numbered_list_item"]["list_start_index"] = json!(3);
        third.block["numbered_list_item"]["list_format"] = json!("roman");
        let blocks = vec![
            rt_block("bulleted_list_item", "a"),
            with_children(
                rt_block("bulleted_list_item", "b"),
                vec![
                    rt_block("numbered_list_item", "b1"),
                    rt_block("numbered_list_item", "b2"),
                ],
            ),
            third,
            rt_block("numbered_list_item", "four"),
            rt_block("paragraph", "break"),
            rt_block("bulleted_list_item", "c"),
        ];
        assert_eq!(
            render_blocks(&blocks),
            "<ul><li>a</li><li>b<ol><li>b1</li><li>b2</li></ol></li></ul>\
             <ol start=\"3\" type=\"i\"><li>three</li><li>four</li></ol>\
             <p>break</p><ul><li>c</li></ul>"
        );
    }

    #[test]
    fn to_do_items_show_their_checkbox_state() {
        let mut done = rt_block("to_do", "done");
        done.block["to_do"]["checked"] = json!(true);
        let open = rt_block("to_do", "open");
        assert_eq!(
            render_blocks(&[done, open]),
            "<ul><li>\u{2611} done</li><li>\u{2610} open</li></ul>"
        );
    }

    #[test]
    fn quotes_and_callouts() {
        let quote = with_children(
            rt_block("quote", "Said"),
            vec![rt_block("paragraph", "more")],
        );
        let callout = BlockNode::leaf(block(
            "callout",
            json!({"rich_text": [text("Note")], "color": "gray_background",
                   "icon": {"type": "emoji", "emoji": "💡"}}),
        ));
        let external_icon = BlockNode::leaf(block(
            "callout",
            json!({"rich_text": [text("Plain")], "color": "default",
                   "icon": {"type": "external", "external": {"url": "https://x.y/i.png"}}}),
        ));
        assert_eq!(
            render_blocks(&[quote, callout, external_icon]),
            "<blockquote><p>Said</p><p>more</p></blockquote>\
             <blockquote class=\"callout\"><p>💡 Note</p></blockquote>\
             <blockquote class=\"callout\"><p>Plain</p></blockquote>"
        );
    }

    #[test]
    fn code_blocks_are_escaped_and_keep_newlines() {
        let mut bold = text("</code>");
        bold["annotations"]["bold"] = json!(true);
        let code = BlockNode::leaf(block(
            "code",
            json!({"rich_text": [text("if a < b {\n  x\n}"), bold],
                   "caption": [text("main.rs")], "language": "plain text"}),
        ));
        assert_eq!(
            render_blocks(&[code]),
            "<figure><pre><code class=\"language-plain-text\">if a &lt; b {\n  x\n}&lt;/code&gt;\
             </code></pre><figcaption>main.rs</figcaption></figure>"
        );
    }

    #[test]
    fn images_from_notion_files_and_external_urls() {
        let hosted = BlockNode::leaf(block(
            "image",
            json!({"type": "file", "caption": [text("A \"cat\"")],
                   "file": {"url": "https://prod-files-secure.s3.us-west-2.amazonaws.com/a/b/cat.png?X-Amz-Signature=abc&X-Amz-Expires=3600",
                            "expiry_time": "2025-01-10T11:00:00.000Z"}}),
        ));
        let external = BlockNode::leaf(block(
            "image",
            json!({"type": "external", "caption": [], "external": {"url": "https://images.example.com/dog.jpg"}}),
        ));
        assert_eq!(
            render_blocks(&[hosted, external]),
            "<figure><img src=\"https://prod-files-secure.s3.us-west-2.amazonaws.com/a/b/cat.png?X-Amz-Signature=abc&amp;X-Amz-Expires=3600\" \
             alt=\"A &quot;cat&quot;\"><figcaption>A &quot;cat&quot;</figcaption></figure>\
             <figure><img src=\"https://images.example.com/dog.jpg\" alt=\"\"></figure>"
        );
    }

    #[test]
    fn links_for_bookmarks_embeds_and_previews() {
        let bookmark = BlockNode::leaf(block(
            "bookmark",
            json!({"url": "https://rust-lang.org/", "caption": [text("Rust")]}),
        ));
        let embed = BlockNode::leaf(block(
            "embed",
            json!({"url": "https://www.youtube.com/watch?v=1&t=2", "caption": []}),
        ));
        let preview = BlockNode::leaf(block(
            "link_preview",
            json!({"url": "https://github.com/org/repo/pull/1"}),
        ));
        let pdf = BlockNode::leaf(block(
            "pdf",
            json!({"type": "external", "external": {"url": "https://x.y/a.pdf"}, "caption": [], "name": "Spec"}),
        ));
        assert_eq!(
            render_blocks(&[bookmark, embed, preview, pdf]),
            "<p><a href=\"https://rust-lang.org/\">Rust</a></p>\
             <p><a href=\"https://www.youtube.com/watch?v=1&amp;t=2\">https://www.youtube.com/watch?v=1&amp;t=2</a></p>\
             <p><a href=\"https://github.com/org/repo/pull/1\">https://github.com/org/repo/pull/1</a></p>\
             <p><a href=\"https://x.y/a.pdf\">Spec</a></p>"
        );
    }

    fn table_row_node(cells: &[&str]) -> BlockNode {
        let cells: Vec<Value> = cells.iter().map(|c| json!([text(c)])).collect();
        BlockNode::leaf(block("table_row", json!({ "cells": cells })))
    }

    #[test]
    fn tables_honour_header_flags() {
        let table = |column_header: bool, row_header: bool| {
            with_children(
                BlockNode::leaf(block(
                    "table",
                    json!({"table_width": 2, "has_column_header": column_header,
                           "has_row_header": row_header}),
                )),
                vec![table_row_node(&["k", "v"]), table_row_node(&["a", "1 < 2"])],
            )
        };
        assert_eq!(
            render_blocks(&[table(true, false)]),
            "<table><thead><tr><th>k</th><th>v</th></tr></thead>\
             <tbody><tr><td>a</td><td>1 &lt; 2</td></tr></tbody></table>"
        );
        assert_eq!(
            render_blocks(&[table(false, true)]),
            "<table><tbody><tr><th>k</th><td>v</td></tr>\
             <tr><th>a</th><td>1 &lt; 2</td></tr></tbody></table>"
        );
    }

    #[test]
    fn toggles_columns_and_child_pages() {
        let toggle = with_children(
            rt_block("toggle", "Open me"),
            vec![rt_block("paragraph", "inside")],
        );
        let column = |name: &str| {
            with_children(
                BlockNode::leaf(block("column", json!({"width_ratio": 0.5}))),
                vec![rt_block("paragraph", name)],
            )
        };
        let columns = with_children(
            BlockNode::leaf(block("column_list", json!({}))),
            vec![column("left"), column("right")],
        );
        let page = BlockNode::leaf(block("child_page", json!({"title": "Sub <page>"})));
        let db = BlockNode::leaf(block("child_database", json!({"title": "Tasks"})));
        assert_eq!(
            render_blocks(&[toggle, columns, page, db]),
            "<details><summary>Open me</summary><p>inside</p></details>\
             <p>left</p><p>right</p><p>Sub &lt;page&gt;</p><p>Tasks</p>"
        );
    }

    #[test]
    fn divider_and_equation() {
        let divider = BlockNode::leaf(block("divider", json!({})));
        let equation = BlockNode::leaf(block("equation", json!({"expression": "e^{i\\pi} < 0"})));
        assert_eq!(
            render_blocks(&[divider, equation]),
            "<hr><p><code>e^{i\\pi} &lt; 0</code></p>"
        );
    }

    #[test]
    fn unknown_blocks_are_skipped_and_reported_once() {
        let blocks = vec![
            BlockNode::leaf(block("table_of_contents", json!({"color": "default"}))),
            rt_block("paragraph", "kept"),
            BlockNode::leaf(block("breadcrumb", json!({}))),
            BlockNode::leaf(block("table_of_contents", json!({"color": "default"}))),
            BlockNode::leaf(block(
                "image",
                json!({"type": "external", "external": {"url": "javascript:alert(1)"}, "caption": []}),
            )),
            BlockNode::leaf(json!({"object": "block"})),
        ];
        let (html, skipped) = render_blocks_with_report(&blocks);
        assert_eq!(html, "<p>kept</p>");
        assert_eq!(
            skipped,
            ["table_of_contents", "breadcrumb", "image", "(no type)"]
        );
    }

    #[test]
    fn odd_block_json_renders_without_panicking() {
        let odd = [
            json!(null),
            json!("paragraph"),
            json!({"type": 7}),
            json!({"type": "paragraph", "paragraph": null}),
            json!({"type": "heading_1", "heading_1": {"rich_text": "x", "is_toggleable": "yes"}}),
            json!({"type": "numbered_list_item", "numbered_list_item": {"list_start_index": -4}}),
            json!({"type": "table", "table": {"has_column_header": true}}),
            json!({"type": "code", "code": {"language": 3}}),
            json!({"type": "image", "image": {"type": "file", "file": {}}}),
            json!({"type": "callout", "callout": {"icon": {"emoji": ["x"]}}}),
        ];
        let nodes: Vec<BlockNode> = odd.into_iter().map(BlockNode::leaf).collect();
        let (html, _) = render_blocks_with_report(&nodes);
        assert_eq!(
            html,
            "<h1></h1><ol><li></li></ol><table><tbody></tbody></table>\
             <pre><code class=\"language-plain-text\"></code></pre>\
             <blockquote class=\"callout\"><p></p></blockquote>"
        );
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let kinds = prop::sample::select(vec![
            "paragraph",
            "heading_1",
            "bulleted_list_item",
            "numbered_list_item",
            "to_do",
            "table",
            "table_row",
            "image",
            "code",
            "callout",
            "toggle",
            "column",
            "type",
            "text",
            "rich_text",
            "cells",
            "url",
            "annotations",
            "caption",
            "file",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z<>&\"':/ ]{0,8}".prop_map(Value::from),
            kinds.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(kinds.clone(), inner, 0..6).prop_map(|map| {
                    Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_renders_without_raw_markup(
            blocks in prop::collection::vec((arbitrary_json(), arbitrary_json()), 0..6)
        ) {
            let nodes: Vec<BlockNode> = blocks
                .into_iter()
                .map(|(block, child)| BlockNode { block, children: vec![BlockNode::leaf(child)] })
                .collect();
            let html = render_blocks(&nodes);
            // Every '<' we emit starts a tag we know; user text '<' is always escaped.
            prop_assert!(!html.contains("<<") && !html.contains("< ") && !html.contains("<\""));
            prop_assert!(!html.contains("javascript:"));
        }
    }
}
