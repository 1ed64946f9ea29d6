//! Notion object ids as users paste them: a raw 32-hex id, a dashed UUID, or a Notion URL.

use std::fmt;

/// Why a string is not a Notion id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidNotionId;

impl fmt::Display for InvalidNotionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a Notion database id (32 hex characters, a UUID, or the database's Notion URL)")
    }
}

impl std::error::Error for InvalidNotionId {}

/// Normalises any accepted form to the dashed, lowercase UUID form the API returns.
///
/// In a URL the id is the last 32-hex run of the path (`.../Title-<id>?v=<view id>`): the view id
/// in the query is deliberately ignored.
pub fn normalize(input: &str) -> Result<String, InvalidNotionId> {
    let trimmed = input.trim();
    let path = trimmed.split(['?', '#']).next().unwrap_or_default();
    let candidate = if path.contains('/') {
        path.rsplit('/')
            .find(|segment| !segment.is_empty())
            .unwrap_or_default()
    } else {
        path
    };
    let hex: String = candidate.chars().filter(|c| *c != '-').collect();
    let tail = hex.get(hex.len().saturating_sub(32)..).unwrap_or_default();
    if tail.len() != 32 || !tail.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InvalidNotionId);
    }
    // A dashed UUID must have its dashes where a UUID has them, and nothing else around it.
    if !path.contains('/') && candidate.contains('-') && !is_dashed_uuid(candidate) {
        return Err(InvalidNotionId);
    }
    Ok(dashed(&tail.to_ascii_lowercase()))
}

/// 32 hex digits, dashes anywhere (as Notion writes ids) -> the dashed lowercase UUID.
pub fn uuid(raw: &str) -> Option<String> {
    let hex: String = raw
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| dashed(&hex))
}

/// Tolerant comparison form for ids that come from Notion itself (payloads, API replies).
pub fn canonical(id: &str) -> String {
    uuid(id).unwrap_or_else(|| id.to_ascii_lowercase())
}

fn is_dashed_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
}

fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";

    #[test]
    fn accepts_the_three_forms() {
        assert_eq!(normalize("36cc9195760f4fffa67e3a46c559b176").unwrap(), ID);
        assert_eq!(
            normalize("36CC9195-760F-4FFF-A67E-3A46C559B176").unwrap(),
            ID
        );
        assert_eq!(
            normalize("https://www.notion.so/acme/Blog-posts-36cc9195760f4fffa67e3a46c559b176?v=aaaaaaaabbbbccccddddeeeeeeeeeeee").unwrap(),
            ID
        );
        assert_eq!(
            normalize("https://www.notion.so/36cc9195760f4fffa67e3a46c559b176").unwrap(),
            ID
        );
        assert_eq!(
            normalize("  36cc9195760f4fffa67e3a46c559b176 \n").unwrap(),
            ID
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "abc",
            "36cc9195760f4fffa67e3a46c559b17",
            "zzcc9195760f4fffa67e3a46c559b176",
            "https://www.notion.so/acme/Blog",
            "36cc-9195760f4fffa67e3a46c559b176",
        ] {
            assert_eq!(normalize(bad), Err(InvalidNotionId), "{bad}");
        }
    }

    #[test]
    fn canonical_dashes_payload_ids() {
        assert_eq!(canonical("36CC9195760F4FFFA67E3A46C559B176"), ID);
        assert_eq!(canonical(ID), ID);
        assert_eq!(canonical("not-an-id"), "not-an-id");
        // Found by the event fuzz test: 32 bytes that are not 32 ASCII characters.
        assert_eq!(canonical("ééééééééééééééé-aa"), "ééééééééééééééé-aa");
    }
}
