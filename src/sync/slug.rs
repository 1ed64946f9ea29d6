//! URL slugs for Framer CMS items: Unicode-aware slugification and collision-free assignment.
//!
//! Framer rejects a whole import when two items share a slug or a slug is empty, so
//! [`assign_slugs`] guarantees unique, non-empty slugs and reports every collision it resolved.

use std::collections::{BTreeMap, BTreeSet};

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Longest slug [`slugify`] produces, in characters (not bytes).
pub const MAX_SLUG_CHARS: usize = 64;

/// Used when neither the source nor the page id yields anything.
const LAST_RESORT_SLUG: &str = "item";

/// Turns any text into a slug: lowercase words of letters and digits joined by single hyphens.
///
/// The text is NFKD-decomposed and accents are dropped from Latin, Greek and Cyrillic letters
/// (`Crème Brûlée` -> `creme-brulee`). Letters and digits of every other script are kept; their
/// combining marks too, because in scripts such as Devanagari or Thai the marks are vowels and
/// dropping them would garble the word. Apostrophes join (`Don't` -> `dont`); every other
/// character separates words. The result is NFC-recomposed (so Hangul stays whole), at most
/// [`MAX_SLUG_CHARS`] characters, and may be empty when the text has no letters or digits.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_hyphen = false;
    let mut in_word = false;
    let mut marks_are_decoration = true;
    for c in s.nfkd() {
        if is_combining_mark(c) {
            if in_word && !marks_are_decoration {
                out.push(c);
            }
        } else if c.is_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            in_word = true;
            // Judge by the lowercase letter actually written, so that slugify is idempotent
            // (found by proptest: U+A7DC lowercases to U+019B, on the other side of the range).
            let mut lower = c.to_lowercase().peekable();
            marks_are_decoration = lower.peek().is_some_and(|l| has_decorative_marks(*l));
            out.extend(lower);
        } else if !is_apostrophe(c) {
            pending_hyphen = true;
            in_word = false;
        }
    }
    let composed: String = out.nfc().collect();
    truncate_slug(&composed, MAX_SLUG_CHARS)
}

/// Whether combining marks after this base letter are accents (safe to drop) rather than
/// integral parts of the letter: true for Latin, Greek and Cyrillic.
fn has_decorative_marks(base: char) -> bool {
    let code = u32::from(base);
    code < 0x0530 || (0x1E00..=0x1FFF).contains(&code)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Cuts to at most `max` characters and drops any hyphen the cut leaves at the end.
fn truncate_slug(slug: &str, max: usize) -> String {
    let cut: String = slug.chars().take(max).collect();
    cut.trim_end_matches('-').to_string()
}

/// One row to give a slug to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugInput {
    /// The Notion page id (dashed or not).
    pub page_id: String,
    /// The text the slug is made from (title, or the chosen slug property).
    pub source: String,
    /// The slug this page got in the last sync and the source it was made from.
    pub previous: Option<(String, String)>,
}

/// Several rows whose sources produced the same slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateSlug {
    /// The slug they all wanted; the first row in input order keeps it.
    pub slug: String,
    /// Every page that wanted it, in input order.
    pub page_ids: Vec<String>,
}

/// The result of [`assign_slugs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlugAssignment {
    /// One slug per input row, in input order; all unique and non-empty.
    pub slugs: Vec<String>,
    /// Collisions that were resolved with `-2`, `-3`, ... suffixes, in order of first occurrence.
    pub duplicates: Vec<DuplicateSlug>,
}

/// Gives every row a unique, non-empty slug.
///
/// - A row whose source is unchanged since the last sync keeps its previous slug, so published
///   URLs stay put; such rows also win a collision against rows with new slugs.
/// - Otherwise the slug is [`slugify`] of the source, or the first 8 hex digits of the page id
///   when the source has no letters or digits.
/// - Rows that want a slug already taken get the lowest free `-2`, `-3`, ... suffix, in input
///   order, and are listed in `duplicates`. Suffixes never steal a slug another row wants as is.
pub fn assign_slugs(rows: &[SlugInput]) -> SlugAssignment {
    let wanted: Vec<(String, bool)> = rows.iter().map(wanted_slug).collect();
    let owners = first_claims(&wanted);
    let mut taken: BTreeSet<String> = owners.keys().cloned().collect();
    let mut slugs = Vec::with_capacity(rows.len());
    for (index, (slug, _)) in wanted.iter().enumerate() {
        if owners.get(slug) == Some(&index) {
            slugs.push(slug.clone());
        } else {
            let suffixed = free_suffixed(slug, &taken);
            taken.insert(suffixed.clone());
            slugs.push(suffixed);
        }
    }
    let duplicates = collect_duplicates(rows, &wanted);
    SlugAssignment { slugs, duplicates }
}

/// One row's slug when rows are assigned one at a time (a stepped sync never holds every row):
/// the slug it wants, or the lowest free `-2`, `-3`, ... suffix when `taken` says another row
/// holds it. Returns the slug and whether it collided. Previous slugs of other rows must count
/// as taken, so that a row keeping its slug always wins, as in [`assign_slugs`].
pub fn assign_one(row: &SlugInput, mut taken: impl FnMut(&str) -> bool) -> (String, bool) {
    let (wanted, _) = wanted_slug(row);
    if !taken(&wanted) {
        return (wanted, false);
    }
    let mut n = 2u64;
    loop {
        let candidate = with_suffix(&wanted, n);
        if !taken(&candidate) {
            return (candidate, true);
        }
        n += 1;
    }
}

/// The slug a row wants and whether it is a kept previous slug.
fn wanted_slug(row: &SlugInput) -> (String, bool) {
    if let Some((slug, source)) = &row.previous {
        if *source == row.source && !slug.trim().is_empty() {
            return (slug.clone(), true);
        }
    }
    let slug = slugify(&row.source);
    if slug.is_empty() {
        (slug_from_page_id(&row.page_id), false)
    } else {
        (slug, false)
    }
}

fn slug_from_page_id(page_id: &str) -> String {
    let hex: String = page_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.is_empty() {
        LAST_RESORT_SLUG.to_string()
    } else {
        hex
    }
}

/// Which row owns each wanted slug: kept previous slugs first, then input order.
fn first_claims(wanted: &[(String, bool)]) -> BTreeMap<String, usize> {
    let mut owners = BTreeMap::new();
    let kept_first = wanted
        .iter()
        .enumerate()
        .filter(|(_, (_, kept))| *kept)
        .chain(wanted.iter().enumerate().filter(|(_, (_, kept))| !*kept));
    for (index, (slug, _)) in kept_first {
        owners.entry(slug.clone()).or_insert(index);
    }
    owners
}

/// The lowest `-n` suffix not taken; terminates because `taken` is finite.
fn free_suffixed(slug: &str, taken: &BTreeSet<String>) -> String {
    let mut n = 2u64;
    loop {
        let candidate = with_suffix(slug, n);
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// `slug-n`, shortening `slug` so that the whole stays within [`MAX_SLUG_CHARS`].
fn with_suffix(slug: &str, n: u64) -> String {
    let suffix = format!("-{n}");
    let room = MAX_SLUG_CHARS.saturating_sub(suffix.len()).max(1);
    let stem = truncate_slug(slug, room);
    if stem.is_empty() {
        format!("{LAST_RESORT_SLUG}{suffix}")
    } else {
        format!("{stem}{suffix}")
    }
}

fn collect_duplicates(rows: &[SlugInput], wanted: &[(String, bool)]) -> Vec<DuplicateSlug> {
    let mut by_slug: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, (slug, _)) in wanted.iter().enumerate() {
        by_slug.entry(slug.as_str()).or_default().push(index);
    }
    let mut duplicates: Vec<(usize, DuplicateSlug)> = by_slug
        .into_iter()
        .filter(|(_, indexes)| indexes.len() > 1)
        .map(|(slug, indexes)| {
            let page_ids = indexes.iter().map(|&i| rows[i].page_id.clone()).collect();
            (
                indexes[0],
                DuplicateSlug {
                    slug: slug.to_string(),
                    page_ids,
                },
            )
        })
        .collect();
    duplicates.sort_by_key(|(first, _)| *first);
    duplicates
        .into_iter()
        .map(|(_, duplicate)| duplicate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(page_id: &str, source: &str) -> SlugInput {
        SlugInput {
            page_id: page_id.to_string(),
            source: source.to_string(),
            previous: None,
        }
    }

    fn row_with_previous(page_id: &str, source: &str, slug: &str, old_source: &str) -> SlugInput {
        SlugInput {
            page_id: page_id.to_string(),
            source: source.to_string(),
            previous: Some((slug.to_string(), old_source.to_string())),
        }
    }

    #[test]
    fn slugify_latin_words_and_accents() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(
            slugify("  Crème Brûlée -- à la carte  "),
            "creme-brulee-a-la-carte"
        );
        assert_eq!(slugify("Ça va? Señor Ødegaard"), "ca-va-senor-ødegaard");
        assert_eq!(slugify("Don't Stop Me Now"), "dont-stop-me-now");
        assert_eq!(
            slugify("Top 10 tips (2024 edition)"),
            "top-10-tips-2024-edition"
        );
        assert_eq!(
            slugify("snake_case and/or kebab-case"),
            "snake-case-and-or-kebab-case"
        );
    }

    #[test]
    fn slugify_compatibility_forms_fold() {
        assert_eq!(slugify("ＡＢＣ １２３"), "abc-123");
        assert_eq!(slugify("ﬁne ﬂow"), "fine-flow");
        assert_eq!(slugify("İstanbul"), "istanbul");
    }

    #[test]
    fn slugify_keeps_other_scripts() {
        assert_eq!(slugify("Привет, мир"), "привет-мир");
        assert_eq!(slugify("Ελληνικά κείμενα"), "ελληνικα-κειμενα");
        assert_eq!(slugify("東京 タワー"), "東京-タワー");
        assert_eq!(slugify("안녕하세요 세계"), "안녕하세요-세계");
        assert_eq!(slugify("नमस्ते दुनिया"), "नमस्ते-दुनिया");
        assert_eq!(slugify("مرحبا بالعالم"), "مرحبا-بالعالم");
    }

    #[test]
    fn slugify_empty_when_no_letters() {
        assert_eq!(slugify(""), "");
        assert_eq!(slugify("  --- !!! 🎉 "), "");
    }

    #[test]
    fn slugify_limits_length_on_char_boundary() {
        let long = "ä".repeat(100);
        let slug = slugify(&long);
        assert_eq!(slug.chars().count(), MAX_SLUG_CHARS);
        assert_eq!(slug, "a".repeat(64));
        let cyrillic = "ж".repeat(70);
        assert_eq!(slugify(&cyrillic), "ж".repeat(64));
        // A cut right after a word must not leave a dangling hyphen.
        let words = format!("{} tail", "x".repeat(63));
        assert_eq!(slugify(&words), "x".repeat(63));
    }

    #[test]
    fn assigns_plain_slugs() {
        let result = assign_slugs(&[row("p1", "Hello World"), row("p2", "Second post")]);
        assert_eq!(result.slugs, vec!["hello-world", "second-post"]);
        assert!(result.duplicates.is_empty());
    }

    #[test]
    fn duplicates_get_numbered_in_input_order() {
        let rows = [
            row("p1", "Hello"),
            row("p2", "hello!"),
            row("p3", "Other"),
            row("p4", "HELLO"),
        ];
        let result = assign_slugs(&rows);
        assert_eq!(result.slugs, vec!["hello", "hello-2", "other", "hello-3"]);
        assert_eq!(
            result.duplicates,
            vec![DuplicateSlug {
                slug: "hello".to_string(),
                page_ids: vec!["p1".to_string(), "p2".to_string(), "p4".to_string()],
            }]
        );
    }

    #[test]
    fn suffix_never_steals_a_natural_slug() {
        let rows = [row("p1", "A"), row("p2", "a"), row("p3", "A 2")];
        let result = assign_slugs(&rows);
        assert_eq!(result.slugs, vec!["a", "a-3", "a-2"]);
    }

    #[test]
    fn keeps_previous_slug_when_source_unchanged() {
        let rows = [row_with_previous("p1", "Hello", "hello-2", "Hello")];
        assert_eq!(assign_slugs(&rows).slugs, vec!["hello-2"]);
    }

    #[test]
    fn reslugs_when_source_changed() {
        let rows = [row_with_previous(
            "p1",
            "New title",
            "old-title",
            "Old title",
        )];
        assert_eq!(assign_slugs(&rows).slugs, vec!["new-title"]);
    }

    #[test]
    fn kept_slug_wins_over_new_one() {
        let rows = [
            row("p-new", "Hello"),
            row_with_previous("p-old", "Hello", "hello", "Hello"),
        ];
        let result = assign_slugs(&rows);
        assert_eq!(result.slugs, vec!["hello-2", "hello"]);
        assert_eq!(result.duplicates[0].page_ids, vec!["p-new", "p-old"]);
    }

    #[test]
    fn empty_source_uses_page_id() {
        let rows = [
            row("153104cd-477e-809d-8dc4-ff2d96ae3090", ""),
            row("1A2B3C4D5E6F", "🎉🎉"),
            row("", ""),
        ];
        assert_eq!(
            assign_slugs(&rows).slugs,
            vec!["153104cd", "1a2b3c4d", "item"]
        );
    }

    #[test]
    fn suffixed_long_slug_stays_within_limit() {
        let source = "y".repeat(80);
        let result = assign_slugs(&[row("p1", &source), row("p2", &source)]);
        assert_eq!(result.slugs[0], "y".repeat(64));
        assert_eq!(result.slugs[1], format!("{}-2", "y".repeat(62)));
    }

    fn arbitrary_rows() -> impl Strategy<Value = Vec<SlugInput>> {
        let source = prop_oneof!["", "[a-c ]{0,3}", "\\PC{0,12}", "[a-b]-[2-3]"];
        let previous = proptest::option::of(("[a-c\\-]{0,4}", "[a-c ]{0,3}"));
        let row =
            ("[0-9a-f\\-]{0,10}", source, previous).prop_map(|(page_id, source, previous)| {
                SlugInput {
                    page_id,
                    source,
                    previous,
                }
            });
        proptest::collection::vec(row, 0..24)
    }

    #[test]
    fn idempotent_when_case_changes_the_script_range() {
        let once = slugify("\u{A7DC}\u{1182C}");
        assert_eq!(slugify(&once), once);
    }

    proptest! {
        #[test]
        fn slugs_are_unique_and_non_empty(rows in arbitrary_rows()) {
            let result = assign_slugs(&rows);
            prop_assert_eq!(result.slugs.len(), rows.len());
            let unique: BTreeSet<&String> = result.slugs.iter().collect();
            prop_assert_eq!(unique.len(), rows.len());
            prop_assert!(result.slugs.iter().all(|s| !s.is_empty()));
            prop_assert_eq!(assign_slugs(&rows), result);
        }

        #[test]
        fn slugify_output_is_well_formed(s in "\\PC{0,100}") {
            let slug = slugify(&s);
            prop_assert!(slug.chars().count() <= MAX_SLUG_CHARS);
            prop_assert!(!slug.starts_with('-') && !slug.ends_with('-'));
            prop_assert!(!slug.contains("--"));
            prop_assert_eq!(slugify(&slug), slug.clone());
        }
    }
}
