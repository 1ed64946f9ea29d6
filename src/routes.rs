//! The Worker's URL space: which handler a method and path reach. One table, so that the router,
//! the logs (route patterns, never raw paths holding webhook keys) and the OpenAPI document agree.

use crate::api_error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    WebhookForProject,
    WebhookShared,
    OpenApi,
    Accounts,
    Account,
    Tokens,
    Token,
    Projects,
    Project,
    WebhookRefreshToken,
    WebhookConfirm,
    SyncNow,
    Syncs,
    Schema,
}

/// `(route, pattern, methods)`: every route the Worker serves.
pub const TABLE: &[(Route, &str, &[&str])] = &[
    (Route::Health, "/healthz", &["GET"]),
    (
        Route::WebhookForProject,
        "/webhooks/notion/{webhook_key}",
        &["POST"],
    ),
    (Route::WebhookShared, "/webhooks/notion", &["POST"]),
    (Route::OpenApi, "/api/v1/openapi.json", &["GET"]),
    (Route::Accounts, "/api/v1/accounts", &["GET", "POST"]),
    (
        Route::Account,
        "/api/v1/accounts/{account_id}",
        &["GET", "PATCH"],
    ),
    (Route::Tokens, "/api/v1/tokens", &["GET", "POST"]),
    (Route::Token, "/api/v1/tokens/{token_id}", &["DELETE"]),
    (Route::Projects, "/api/v1/projects", &["GET", "POST"]),
    (
        Route::Project,
        "/api/v1/projects/{project_id}",
        &["GET", "PATCH", "DELETE"],
    ),
    (
        Route::WebhookRefreshToken,
        "/api/v1/projects/{project_id}/webhook/refresh-token",
        &["POST"],
    ),
    (
        Route::WebhookConfirm,
        "/api/v1/projects/{project_id}/webhook/confirm",
        &["POST"],
    ),
    (
        Route::SyncNow,
        "/api/v1/projects/{project_id}/sync",
        &["POST"],
    ),
    (
        Route::Syncs,
        "/api/v1/projects/{project_id}/syncs",
        &["GET"],
    ),
    (
        Route::Schema,
        "/api/v1/projects/{project_id}/schema",
        &["GET"],
    ),
];

/// A matched request: the route, its pattern (for logs) and the path parameter, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub pattern: &'static str,
    pub param: Option<String>,
}

/// Resolves `method` and `path`. Unknown paths are 404; known paths with another method are 405.
pub fn resolve(method: &str, path: &str) -> Result<Matched, ApiError> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    for (route, pattern, methods) in TABLE {
        if let Some(param) = match_pattern(pattern, path) {
            if !methods.contains(&method) {
                return Err(ApiError::MethodNotAllowed {
                    allowed: methods.to_vec(),
                });
            }
            return Ok(Matched {
                route: *route,
                pattern,
                param,
            });
        }
    }
    Err(ApiError::NotFound(format!("route {path}")))
}

/// `Some(param)` when the path fits the pattern; at most one `{param}` segment per pattern.
fn match_pattern(pattern: &str, path: &str) -> Option<Option<String>> {
    let mut param = None;
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(param),
            (Some(w), Some(g)) if w.starts_with('{') => {
                if g.is_empty() || g.len() > 128 {
                    return None;
                }
                param = Some(g.to_owned());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_patterns_and_params() {
        let m = resolve("POST", "/webhooks/notion/whk_abc").unwrap();
        assert_eq!(
            (m.route, m.param.as_deref()),
            (Route::WebhookForProject, Some("whk_abc"))
        );
        assert_eq!(
            resolve("POST", "/webhooks/notion").unwrap().route,
            Route::WebhookShared
        );
        let m = resolve("POST", "/api/v1/projects/p1/webhook/refresh-token/").unwrap();
        assert_eq!(
            (m.route, m.param.as_deref()),
            (Route::WebhookRefreshToken, Some("p1"))
        );
        assert_eq!(resolve("GET", "/healthz").unwrap().pattern, "/healthz");
    }

    #[test]
    fn unknown_is_404_and_wrong_method_405() {
        assert_eq!(resolve("GET", "/nope").unwrap_err().status(), 404);
        assert_eq!(
            resolve("GET", "/api/v1/projects/p1/extra")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            resolve("GET", "/webhooks/notion//").unwrap_err().status(),
            405,
            "trailing slashes are ignored"
        );
        let e = resolve("PUT", "/api/v1/projects/p1").unwrap_err();
        assert_eq!(
            e,
            ApiError::MethodNotAllowed {
                allowed: vec!["GET", "PATCH", "DELETE"]
            }
        );
    }
}
