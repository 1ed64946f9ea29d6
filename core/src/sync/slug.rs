//! URL slugs for Framer CMS items: Unicode-aware slugification and collision-free assignment.
//!
//! Framer refuses a whole batch when two items would share a slug or a slug is empty. A stepped
//! sync never holds every row, so rows are given slugs one at a time as they are staged
//! ([`choose`]), against what holds each slug at that moment ([`Holder`]): the engine calls
//! [`choose`] while reading (a slug held only by an item that may still give it up this run
//! makes the row wait) and again for the waiting rows once reading and removing are over.

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

/// What holds a slug a row wants, as the staging sees it at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Holder {
    /// Another row staged this run was given it.
    Given,
    /// Another row staged this run waits for it (it wants it as is).
    Wanted,
    /// Framer has it on the item of another page, whose row may still give it up this run
    /// (renamed, or removed) and has not yet.
    Item,
}

/// The slug one row gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The row's slug; `suffixed` when it wanted another (a collision, worth a warning).
    Slug { slug: String, suffixed: bool },
    /// The slug it wants is held: the row waits (holding `wanted` as [`Holder::Wanted`]) and
    /// chooses again once reading is over, when every holder is final.
    Wait { wanted: String },
}

/// One row's slug, given what holds each candidate (`holder`, for pages other than the row's).
///
/// - A row whose source is unchanged since the last sync keeps its previous slug, so published
///   URLs stay put: a row waiting for that slug does not stop it.
/// - Otherwise the row wants [`slugify`] of its source, or the first 8 hex digits of the page id
///   when the source has no letters or digits.
/// - While reading (`may_wait`), a row whose wanted slug is held in any way waits: only once
///   every row has taken the slug it wants as is, or waits for it, can a suffix be chosen that
///   no row wants as is. The engine then calls again with `may_wait` false, in staging order:
///   a slug only waiting rows want goes to the first of them.
/// - Otherwise a held slug gives the lowest `-2`, `-3`, ... suffix that nothing holds, waiting
///   rows' wanted slugs included: a suffix never steals a slug another row wants as is.
pub fn choose(
    row: &SlugInput,
    may_wait: bool,
    mut holder: impl FnMut(&str) -> Option<Holder>,
) -> Choice {
    let (wanted, kept) = wanted_slug(row);
    let take = match holder(&wanted) {
        None => true,
        Some(Holder::Wanted) => kept || !may_wait,
        Some(Holder::Given | Holder::Item) => false,
    };
    if take {
        return Choice::Slug {
            slug: wanted,
            suffixed: false,
        };
    }
    if may_wait {
        return Choice::Wait { wanted };
    }
    let mut n = 2u64;
    loop {
        let candidate = with_suffix(&wanted, n);
        if holder(&candidate).is_none() {
            return Choice::Slug {
                slug: candidate,
                suffixed: true,
            };
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

    /// `choose` against a fixed map of holders.
    fn chosen(row: &SlugInput, may_wait: bool, held: &[(&str, Holder)]) -> Choice {
        choose(row, may_wait, |slug| {
            held.iter().find(|(s, _)| *s == slug).map(|(_, h)| *h)
        })
    }

    fn slug(slug: &str, suffixed: bool) -> Choice {
        Choice::Slug {
            slug: slug.to_string(),
            suffixed,
        }
    }

    #[test]
    fn a_free_slug_is_taken() {
        assert_eq!(
            chosen(&row("p1", "Hello World"), true, &[]),
            slug("hello-world", false)
        );
    }

    #[test]
    fn a_given_slug_gets_the_lowest_free_suffix() {
        let held = [("hello", Holder::Given), ("hello-2", Holder::Given)];
        assert_eq!(
            chosen(&row("p2", "hello!"), false, &held),
            slug("hello-3", true)
        );
        // While reading, it waits: a later row may want `hello-3` as is.
        assert_eq!(
            chosen(&row("p2", "hello!"), true, &held),
            Choice::Wait {
                wanted: "hello".into()
            }
        );
    }

    #[test]
    fn suffix_never_steals_a_slug_another_row_wants_or_framer_holds() {
        let held = [
            ("a", Holder::Given),
            ("a-2", Holder::Wanted),
            ("a-3", Holder::Item),
        ];
        assert_eq!(chosen(&row("p2", "a"), false, &held), slug("a-4", true));
    }

    #[test]
    fn a_slug_framer_still_holds_for_another_page_makes_the_row_wait_while_reading() {
        let held = [("hello", Holder::Item)];
        assert_eq!(
            chosen(&row("p1", "Hello"), true, &held),
            Choice::Wait {
                wanted: "hello".into()
            }
        );
        // Once reading is over the holder is final.
        assert_eq!(
            chosen(&row("p1", "Hello"), false, &held),
            slug("hello-2", true)
        );
    }

    #[test]
    fn a_slug_only_waiting_rows_want_goes_to_a_kept_slug_or_to_the_first_to_choose() {
        let held = [("hello", Holder::Wanted)];
        assert_eq!(
            chosen(&row("p2", "Hello"), true, &held),
            Choice::Wait {
                wanted: "hello".into()
            }
        );
        assert_eq!(
            chosen(&row("p2", "Hello"), false, &held),
            slug("hello", false)
        );
        let kept = row_with_previous("p3", "Hello", "hello", "Hello");
        assert_eq!(chosen(&kept, true, &held), slug("hello", false));
    }

    #[test]
    fn keeps_previous_slug_when_source_unchanged() {
        let kept = row_with_previous("p1", "Hello", "hello-2", "Hello");
        assert_eq!(chosen(&kept, true, &[]), slug("hello-2", false));
    }

    #[test]
    fn reslugs_when_source_changed() {
        let renamed = row_with_previous("p1", "New title", "old-title", "Old title");
        assert_eq!(chosen(&renamed, true, &[]), slug("new-title", false));
    }

    #[test]
    fn empty_source_uses_page_id() {
        assert_eq!(
            chosen(&row("153104cd-477e-809d-8dc4-ff2d96ae3090", ""), true, &[]),
            slug("153104cd", false)
        );
        assert_eq!(
            chosen(&row("1A2B3C4D5E6F", "🎉🎉"), true, &[]),
            slug("1a2b3c4d", false)
        );
        assert_eq!(chosen(&row("", ""), true, &[]), slug("item", false));
    }

    #[test]
    fn suffixed_long_slug_stays_within_limit() {
        let source = "y".repeat(80);
        let held = [("y".repeat(64), Holder::Given)];
        let held: Vec<(&str, Holder)> = held.iter().map(|(s, h)| (s.as_str(), *h)).collect();
        assert_eq!(
            chosen(&row("p2", &source), false, &held),
            slug(&format!("{}-2", "y".repeat(62)), true)
        );
    }

    #[test]
    fn idempotent_when_case_changes_the_script_range() {
        let once = slugify("\u{A7DC}\u{1182C}");
        assert_eq!(slugify(&once), once);
    }

    proptest! {
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
