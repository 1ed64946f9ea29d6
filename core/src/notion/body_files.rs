//! The files a rendered page body points at, and the same HTML with those links rewritten.
//!
//! Page bodies and rich text reach Framer as the HTML of [`crate::notion::page_html`]: images
//! as `<img src=".." alt="..">` (the alt text is the caption), files, PDFs, videos and audio
//! as `<a href="..">label</a>`. A Notion-hosted file among them carries a signed URL that stops
//! working within the hour, so the sync lists them here and later swaps each for the URL of
//! the copy Framer hosts, or removes it when no copy could be made.
//!
//! The scanner reads that renderer's output, not arbitrary HTML: every text and attribute value
//! there is escaped, so a literal `<img` or `<a` can only be a tag the renderer wrote, and
//! attribute values are double-quoted without a `"` inside.

use crate::notion::page_html::escape_html;

/// How a body refers to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// `<img src>`.
    Image,
    /// `<a href>`.
    Link,
}

/// One file reference in a rendered body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyFile {
    pub element: Element,
    /// The URL as written, unescaped.
    pub url: String,
    /// An image's alt text (its Notion caption); `None` for links and empty captions.
    pub alt: Option<String>,
}

/// What becomes of one reference when the body is rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// Leave it as it is.
    Keep,
    /// Point it at this URL instead.
    Replace(String),
    /// Drop the image (and its `<figure>` when nothing else is in it), or unwrap the link
    /// (its label stays as text).
    Remove,
}

/// Every `<img src>` and `<a href>` of `html`, in document order.
pub fn body_files(html: &str) -> Vec<BodyFile> {
    tags(html).map(|tag| tag.file).collect()
}

/// `html` with each reference rewritten as `decide` says.
pub fn rewrite_body_files(html: &str, mut decide: impl FnMut(&BodyFile) -> Rewrite) -> String {
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    // Set when a link was unwrapped: its `</a>` (links never nest) must go too.
    let mut unwrapped_link = false;
    for tag in tags(html) {
        let before = &html[copied..tag.start];
        copied = tag.end;
        if unwrapped_link {
            if let Some(at) = before.find("</a>") {
                out.push_str(&before[..at]);
                out.push_str(&before[at + "</a>".len()..]);
                unwrapped_link = false;
            } else {
                out.push_str(before);
            }
        } else {
            out.push_str(before);
        }
        match decide(&tag.file) {
            Rewrite::Keep => out.push_str(&html[tag.start..tag.end]),
            Rewrite::Replace(url) => {
                out.push_str(&html[tag.start..tag.value_start]);
                out.push_str(&escape_html(&url));
                out.push_str(&html[tag.value_end..tag.end]);
            }
            Rewrite::Remove => match tag.file.element {
                Element::Link => unwrapped_link = true,
                Element::Image => {
                    if out.ends_with("<figure>") && html[copied..].starts_with("</figure>") {
                        out.truncate(out.len() - "<figure>".len());
                        copied += "</figure>".len();
                    }
                }
            },
        }
    }
    let rest = &html[copied..];
    match rest.find("</a>").filter(|_| unwrapped_link) {
        Some(at) => {
            out.push_str(&rest[..at]);
            out.push_str(&rest[at + "</a>".len()..]);
        }
        None => out.push_str(rest),
    }
    out
}

/// One `<img>` or `<a>` start tag: its byte span and the span of its `src`/`href` value.
struct Tag {
    start: usize,
    end: usize,
    value_start: usize,
    value_end: usize,
    file: BodyFile,
}

fn tags(html: &str) -> impl Iterator<Item = Tag> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = html[from..].find('<') {
            let start = from + offset;
            let end = start
                + html[start..]
                    .find('>')
                    .map_or(html.len() - start, |at| at + 1);
            from = end;
            if let Some(tag) = read_tag(html, start, end) {
                return Some(tag);
            }
        }
        None
    })
}

fn read_tag(html: &str, start: usize, end: usize) -> Option<Tag> {
    let text = &html[start..end];
    let (element, url_attribute) = if text.starts_with("<img ") {
        (Element::Image, "src")
    } else if text.starts_with("<a ") {
        (Element::Link, "href")
    } else {
        return None;
    };
    let (value_start, value_end) = attribute_span(text, url_attribute)?;
    let alt = match element {
        Element::Image => attribute_span(text, "alt")
            .map(|(from, to)| unescape_html(&text[from..to]))
            .filter(|alt| !alt.is_empty()),
        Element::Link => None,
    };
    Some(Tag {
        start,
        end,
        value_start: start + value_start,
        value_end: start + value_end,
        file: BodyFile {
            element,
            url: unescape_html(&text[value_start..value_end]),
            alt,
        },
    })
}

/// The byte span of the double-quoted value of ` name="..."` inside a start tag.
fn attribute_span(tag: &str, name: &str) -> Option<(usize, usize)> {
    let needle = format!(" {name}=\"");
    let from = tag.find(&needle)? + needle.len();
    let to = from + tag[from..].find('"')?;
    Some((from, to))
}

/// Undoes [`escape_html`] (and numeric character references).
fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|semi| {
            let ch = match &rest[1..semi] {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                entity => numeric_reference(entity),
            }?;
            Some((ch, semi + 1))
        });
        if let Some((ch, length)) = decoded {
            out.push(ch);
            rest = &rest[length..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn numeric_reference(entity: &str) -> Option<char> {
    let digits = entity.strip_prefix('#')?;
    let code = match digits.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    char::from_u32(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::page_html::{render_blocks, BlockNode};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const SIGNED: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/ws/f1/cat.png?X-Amz-Signature=abc&X-Amz-Expires=3600";
    const SIGNED_PDF: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/ws/f2/Spec%20v2.pdf?X-Amz-Signature=def&X-Amz-Expires=3600";

    fn caption(text: &str) -> Value {
        json!([{"type": "text", "text": {"content": text, "link": null}, "plain_text": text,
                "annotations": {"bold": false, "italic": false, "strikethrough": false,
                                "underline": false, "code": false, "color": "default"},
                "href": null}])
    }

    fn block(kind: &str, content: &Value) -> BlockNode {
        BlockNode::leaf(json!({"object": "block", "type": kind, kind: content}))
    }

    fn hosted(url: &str, caption_text: &str) -> Value {
        json!({"type": "file", "caption": caption(caption_text),
               "file": {"url": url, "expiry_time": "2025-01-10T11:00:00.000Z"}})
    }

    /// A body as the renderer writes it: a captioned hosted image, an external one, a hosted
    /// file link with a name, and a paragraph with an ordinary link.
    fn body() -> String {
        let mut file = hosted(SIGNED_PDF, "");
        file["name"] = json!("Spec v2.pdf");
        let paragraph = json!({"rich_text": [{"type": "text",
            "text": {"content": "docs", "link": {"url": "https://example.com/?a=1&b=2"}},
            "plain_text": "docs", "href": "https://example.com/?a=1&b=2"}]});
        render_blocks(&[
            block("image", &hosted(SIGNED, "A \"cat\" & co")),
            block(
                "image",
                &json!({"type": "external", "caption": [], "external": {"url": "https://images.example.com/dog.jpg"}}),
            ),
            block("file", &file),
            block("paragraph", &paragraph),
        ])
    }

    #[test]
    fn lists_images_with_their_caption_and_links_in_order() {
        assert_eq!(
            body_files(&body()),
            vec![
                BodyFile {
                    element: Element::Image,
                    url: SIGNED.into(),
                    alt: Some("A \"cat\" & co".into())
                },
                BodyFile {
                    element: Element::Image,
                    url: "https://images.example.com/dog.jpg".into(),
                    alt: None
                },
                BodyFile {
                    element: Element::Link,
                    url: SIGNED_PDF.into(),
                    alt: None
                },
                BodyFile {
                    element: Element::Link,
                    url: "https://example.com/?a=1&b=2".into(),
                    alt: None
                },
            ]
        );
        assert_eq!(body_files("<p>1 &lt;img src=\"x\"&gt; 2</p>"), vec![]);
        assert_eq!(body_files(""), vec![]);
    }

    #[test]
    fn replaces_urls_and_keeps_everything_else() {
        let html = body();
        let rewritten = rewrite_body_files(&html, |file| {
            if file.url.starts_with("https://prod-files-secure.") {
                Rewrite::Replace(format!(
                    "https://framerusercontent.com/x?n={}&y",
                    file.url.len()
                ))
            } else {
                Rewrite::Keep
            }
        });
        assert_eq!(
            rewritten,
            html.replace(
                &escape_html(SIGNED),
                &escape_html(&format!(
                    "https://framerusercontent.com/x?n={}&y",
                    SIGNED.len()
                ))
            )
            .replace(
                &escape_html(SIGNED_PDF),
                &escape_html(&format!(
                    "https://framerusercontent.com/x?n={}&y",
                    SIGNED_PDF.len()
                ))
            )
        );
        assert!(rewritten.contains("alt=\"A &quot;cat&quot; &amp; co\""));
        assert_eq!(rewrite_body_files(&html, |_| Rewrite::Keep), html);
    }

    #[test]
    fn removed_images_take_an_empty_figure_along_and_removed_links_leave_their_label() {
        let html = body();
        let rewritten = rewrite_body_files(&html, |file| {
            if file.url.starts_with("https://prod-files-secure.") {
                Rewrite::Remove
            } else {
                Rewrite::Keep
            }
        });
        assert_eq!(
            rewritten,
            "<figure><figcaption>A &quot;cat&quot; &amp; co</figcaption></figure>\
             <figure><img src=\"https://images.example.com/dog.jpg\" alt=\"\"></figure>\
             <p>Spec v2.pdf</p>\
             <p><a href=\"https://example.com/?a=1&amp;b=2\">docs</a></p>"
        );
        let bare = render_blocks(&[block("image", &hosted(SIGNED, ""))]);
        assert_eq!(rewrite_body_files(&bare, |_| Rewrite::Remove), "");
        let last_link = "<p>see <a href=\"https://x.test/a\"><strong>this</strong></a> now</p>";
        assert_eq!(
            rewrite_body_files(last_link, |_| Rewrite::Remove),
            "<p>see <strong>this</strong> now</p>"
        );
    }

    #[test]
    fn entities_are_read_back() {
        assert_eq!(
            unescape_html("a&amp;b&lt;&gt;&quot;&#39;&#x41;&#66;"),
            "a&b<>\"'AB"
        );
        assert_eq!(
            unescape_html("5 & 6 &bogus; &#xZZ; &"),
            "5 & 6 &bogus; &#xZZ; &"
        );
    }

    proptest! {
        #[test]
        fn any_url_survives_escaping_and_listing(url in "\\PC{0,40}", alt in "\\PC{0,20}") {
            let html = format!("<figure><img src=\"{}\" alt=\"{}\"></figure>", escape_html(&url), escape_html(&alt));
            let files = body_files(&html);
            prop_assert_eq!(files.len(), 1);
            prop_assert_eq!(&files[0].url, &url);
            prop_assert_eq!(files[0].alt.clone(), Some(alt.clone()).filter(|a| !a.is_empty()));
            let replaced = rewrite_body_files(&html, |_| Rewrite::Replace(alt.clone()));
            prop_assert_eq!(&body_files(&replaced)[0].url, &alt);
        }
    }
}
