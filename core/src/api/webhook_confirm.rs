//! "I've verified in Notion" names the verification token the owner saw, so that a confirm
//! never swaps in a token the owner did not see. The webhook URL is not a strong secret: anyone
//! who learns it can send a verification request, which leaves a *pending* token beside the
//! current one. Only the token `refresh-token` showed the owner (the token itself or its
//! fingerprint) is confirmed; a confirm for another token, or one that names none while a
//! pending token waits, is refused and changes nothing.

use crate::api::error::ApiError;
use crate::util::secrets::{constant_time_eq, hash_token};
use serde_json::Value;

/// Hex digits of a token's SHA-256 that make its fingerprint.
pub const FINGERPRINT_LEN: usize = 8;

/// What `refresh-token` shows beside a token and a confirm may name instead of it: the first
/// eight hex digits of the token's SHA-256. Enough to tell the current token from a pending
/// one, and useless to anyone who has not seen the token.
pub fn fingerprint(token: &str) -> String {
    let mut hash = hash_token(token);
    hash.truncate(FINGERPRINT_LEN);
    hash
}

/// The confirm's body: `{}` (or none), `{"token"}` or `{"fingerprint"}`.
#[derive(Debug, Default)]
pub struct ConfirmBody {
    pub token: Option<String>,
    pub fingerprint: Option<String>,
}

impl ConfirmBody {
    /// Reads the body's JSON: an object with at most these two string fields.
    pub fn from_json(body: &Value) -> Result<Self, ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::validation("body", "expected a JSON object"));
        };
        let mut parsed = Self::default();
        for (key, value) in object {
            let slot = match key.as_str() {
                "token" => &mut parsed.token,
                "fingerprint" => &mut parsed.fingerprint,
                other => {
                    return Err(ApiError::validation(
                        other,
                        "unknown field: send `token` or `fingerprint`",
                    ))
                }
            };
            let Some(text) = value.as_str() else {
                return Err(ApiError::validation(key, "expected a string"));
            };
            *slot = Some(text.to_owned());
        }
        Ok(parsed)
    }
}

/// The token a confirm names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Token(String),
    Fingerprint(String),
}

impl Named {
    fn is(&self, token: &str) -> bool {
        match self {
            Self::Token(named) => constant_time_eq(named, token),
            Self::Fingerprint(named) => constant_time_eq(named, &fingerprint(token)),
        }
    }
}

impl ConfirmBody {
    /// The token named, if any; a malformed name is a 400 naming its field.
    pub fn named(self) -> Result<Option<Named>, ApiError> {
        match (self.token, self.fingerprint) {
            (Some(_), Some(_)) => Err(ApiError::validation(
                "fingerprint",
                "send the token or its fingerprint, not both",
            )),
            (Some(token), None) => {
                let token = token.trim().to_owned();
                if token.is_empty() {
                    return Err(ApiError::validation("token", "the token is empty"));
                }
                Ok(Some(Named::Token(token)))
            }
            (None, Some(fp)) => {
                let fp = fp.trim().to_ascii_lowercase();
                if fp.len() != FINGERPRINT_LEN || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ApiError::validation(
                        "fingerprint",
                        "expected the 8 hex digits `refresh-token` shows as `fingerprint`",
                    ));
                }
                Ok(Some(Named::Fingerprint(fp)))
            }
            (None, None) => Ok(None),
        }
    }
}

/// What a confirm does with the tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// The current token stays; a pending one (if any) keeps waiting.
    Current,
    /// The pending token, the one the owner saw, replaces the current one.
    Pending,
}

/// Which token a confirm makes the project's: the one it names, when that is the current or the
/// pending token. Naming none is the first setup's confirm (only a current token): with a
/// pending token waiting it is refused, since the pending token may have arrived after the one
/// the owner saw.
pub fn decide(
    named: Option<&Named>,
    current: &str,
    pending: Option<&str>,
) -> Result<Confirmed, ApiError> {
    match named {
        Some(named) if pending.is_some_and(|p| named.is(p)) => Ok(Confirmed::Pending),
        Some(named) if named.is(current) => Ok(Confirmed::Current),
        Some(_) => Err(ApiError::StateConflict {
            code: "token_mismatch",
            message: "the verification token you confirmed is not the newest one Notion sent for this project: press Refresh token, paste the token it shows into Notion, then confirm again".to_owned(),
        }),
        None if pending.is_some() => Err(ApiError::StateConflict {
            code: "token_not_named",
            message: "a new verification token arrived: press Refresh token, paste the token it shows into Notion, then confirm naming it (`token` or `fingerprint`)".to_owned(),
        }),
        None => Ok(Confirmed::Current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEN: &str = "secret_seen_by_the_owner_0123456789";
    const FORGED: &str = "secret_sent_by_someone_else_987654";
    const OLD: &str = "secret_in_use_before_abcdefghijkl";

    fn body(token: Option<&str>, fp: Option<&str>) -> Result<Option<Named>, ApiError> {
        ConfirmBody {
            token: token.map(str::to_owned),
            fingerprint: fp.map(str::to_owned),
        }
        .named()
    }

    #[test]
    fn fingerprints_are_the_first_eight_hex_of_the_sha256() {
        // printf 'abc' | sha256sum -> ba7816bf8f01cfea...
        assert_eq!(fingerprint("abc"), "ba7816bf");
        assert_ne!(fingerprint(SEEN), fingerprint(FORGED));
    }

    #[test]
    fn the_named_token_is_the_only_one_confirmed() {
        let seen = Named::Token(SEEN.to_owned());
        let seen_fp = Named::Fingerprint(fingerprint(SEEN));
        for named in [&seen, &seen_fp] {
            // The owner saw the pending token: it replaces the current one.
            assert_eq!(decide(Some(named), OLD, Some(SEEN)), Ok(Confirmed::Pending));
            // The owner saw the current token, and another arrived since: it keeps waiting.
            assert_eq!(
                decide(Some(named), SEEN, Some(FORGED)),
                Ok(Confirmed::Current)
            );
            // First setup: the only token.
            assert_eq!(decide(Some(named), SEEN, None), Ok(Confirmed::Current));
        }
    }

    #[test]
    fn a_confirm_for_another_token_is_a_conflict_that_names_what_to_do() {
        // The owner saw a token that was replaced meanwhile by a newer pending one.
        let stale = Named::Token(SEEN.to_owned());
        let e = decide(Some(&stale), OLD, Some(FORGED)).unwrap_err();
        assert_eq!((e.status(), e.code()), (409, "token_mismatch"));
        assert!(e.message().contains("Refresh token"), "{}", e.message());
        let e = decide(Some(&Named::Fingerprint("00000000".into())), OLD, None).unwrap_err();
        assert_eq!(e.code(), "token_mismatch");
    }

    #[test]
    fn naming_none_never_swaps_in_a_pending_token() {
        assert_eq!(decide(None, SEEN, None), Ok(Confirmed::Current));
        let e = decide(None, OLD, Some(FORGED)).unwrap_err();
        assert_eq!((e.status(), e.code()), (409, "token_not_named"));
    }

    #[test]
    fn bodies_name_a_token_or_a_fingerprint() {
        assert_eq!(body(None, None), Ok(None));
        assert_eq!(
            body(Some(" t0k "), None),
            Ok(Some(Named::Token("t0k".into())))
        );
        assert_eq!(
            body(None, Some("BA7816BF")),
            Ok(Some(Named::Fingerprint("ba7816bf".into())))
        );
        for (token, fp, field) in [
            (Some("t"), Some("ba7816bf"), "fingerprint"),
            (Some("  "), None, "token"),
            (None, Some("ba7816b"), "fingerprint"),
            (None, Some("ba7816bz"), "fingerprint"),
        ] {
            let e = body(token, fp).unwrap_err();
            assert_eq!(e.body("r")["error"]["field"], field, "{token:?} {fp:?}");
        }
        let read = |json: Value| ConfirmBody::from_json(&json).map(ConfirmBody::named);
        assert!(matches!(
            read(serde_json::json!({"fingerprint": "ba7816bf"})),
            Ok(Ok(Some(Named::Fingerprint(_))))
        ));
        assert!(matches!(read(serde_json::json!({})), Ok(Ok(None))));
        for (json, field) in [
            (serde_json::json!({"tokn": "x"}), "tokn"),
            (serde_json::json!({"token": 1}), "token"),
            (serde_json::json!([]), "body"),
        ] {
            let e = ConfirmBody::from_json(&json).unwrap_err();
            assert_eq!(e.body("r")["error"]["field"], field, "{json}");
        }
    }
}
