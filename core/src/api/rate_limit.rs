//! What the Worker rate-limits and under which key. The counting itself is Cloudflare's Workers
//! Rate Limiting binding (`[[ratelimits]]` in wrangler.toml, one binding per limit); this names
//! the binding, the window a client must wait out, and the keys, so that a flood against one
//! webhook key or one client never slows another.

use crate::api::error::ApiError;

/// One limited kind of request. Only requests that fail (or, for verification requests, that
/// would change stored state) are counted: genuine traffic never spends the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Webhook events whose signature does not verify, per webhook URL key.
    ForgedSignature,
    /// Notion verification requests, per webhook URL key (the shared URL counts as one key).
    Verification,
    /// Failed API authentications, per client IP and per presented token prefix.
    FailedAuth,
}

/// How much of a presented API token names its bucket: enough to keep guesses at one token
/// together, too little to say anything about a real token.
const TOKEN_PREFIX_CHARS: usize = 12;

impl Limit {
    /// The wrangler.toml binding that counts this limit.
    pub fn binding(self) -> &'static str {
        match self {
            Self::ForgedSignature => "FORGED_SIGNATURE_LIMITER",
            Self::Verification => "VERIFICATION_LIMITER",
            Self::FailedAuth => "FAILED_AUTH_LIMITER",
        }
    }

    /// The binding's period: waiting this long always finds a fresh window.
    pub fn period_secs(self) -> u32 {
        60
    }

    /// The error a client over the limit receives.
    pub fn exceeded(self) -> ApiError {
        ApiError::RateLimited {
            retry_after_secs: self.period_secs(),
        }
    }
}

/// The key of a webhook URL's bucket.
pub fn webhook_key(key: &str) -> String {
    format!("key:{key}")
}

/// The key of a client's bucket for failed authentications.
pub fn client_key(ip: Option<&str>) -> String {
    format!("ip:{}", ip.unwrap_or("unknown"))
}

/// The key of a presented token's bucket for failed authentications: its first characters.
pub fn token_prefix_key(token: &str) -> String {
    let prefix: String = token.chars().take(TOKEN_PREFIX_CHARS).collect();
    format!("token:{prefix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_has_its_binding_and_a_retry_after() {
        let bindings = [
            Limit::ForgedSignature.binding(),
            Limit::Verification.binding(),
            Limit::FailedAuth.binding(),
        ];
        assert_eq!(
            bindings,
            [
                "FORGED_SIGNATURE_LIMITER",
                "VERIFICATION_LIMITER",
                "FAILED_AUTH_LIMITER"
            ]
        );
        let e = Limit::FailedAuth.exceeded();
        assert_eq!((e.status(), e.code()), (429, "rate_limited"));
        assert_eq!(
            e,
            ApiError::RateLimited {
                retry_after_secs: 60
            }
        );
    }

    #[test]
    fn keys_separate_webhooks_clients_and_token_prefixes() {
        assert_eq!(webhook_key("whk_a"), "key:whk_a");
        assert_ne!(webhook_key("whk_a"), webhook_key("whk_b"));
        assert_eq!(client_key(Some("203.0.113.9")), "ip:203.0.113.9");
        assert_eq!(client_key(None), "ip:unknown");
        // Guesses that share a prefix share a bucket; the rest of a token never leaves here.
        let guess = "nfs_abcdefgh_rest_of_a_guess";
        assert_eq!(token_prefix_key(guess), "token:nfs_abcdefgh");
        assert_eq!(
            token_prefix_key(guess),
            token_prefix_key("nfs_abcdefgh_other")
        );
        assert_eq!(
            token_prefix_key("é"),
            "token:é",
            "short and non-ASCII tokens are fine"
        );
    }
}
