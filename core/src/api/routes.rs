//! The Worker's URL space: which operation a method and path reach. One table, so that the
//! router, the logs (route patterns, never raw paths holding webhook keys) and the OpenAPI
//! document agree. Each operation is named after its OpenAPI `operationId`, and the router
//! matches every operation by name, so a route added here does not compile until it is handled.

use crate::api::error::ApiError;

/// One (method, path) the Worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetHealth,
    GetLive,
    ReceiveProjectWebhook,
    ReceiveSharedWebhook,
    GetOpenApi,
    ListAccounts,
    CreateAccount,
    GetAccount,
    UpdateAccount,
    ListTokens,
    CreateToken,
    RevokeToken,
    ListProjects,
    CreateProject,
    GetProject,
    UpdateProject,
    DeleteProject,
    RefreshWebhookToken,
    ConfirmWebhook,
    RotateWebhookUrl,
    SyncNow,
    ApplyRemovals,
    DismissRemovals,
    ListSyncs,
    GetSchema,
    AddSiblings,
    DiscoverNotionGraph,
    ListAlertDestinations,
    CreateAlertDestination,
    GetAlertDestination,
    UpdateAlertDestination,
    DeleteAlertDestination,
    SendTestAlert,
}

impl Operation {
    /// The OpenAPI `operationId`.
    pub fn id(self) -> &'static str {
        match self {
            Self::GetHealth => "getHealth",
            Self::GetLive => "getLive",
            Self::ReceiveProjectWebhook => "receiveProjectWebhook",
            Self::ReceiveSharedWebhook => "receiveSharedWebhook",
            Self::GetOpenApi => "getOpenApi",
            Self::ListAccounts => "listAccounts",
            Self::CreateAccount => "createAccount",
            Self::GetAccount => "getAccount",
            Self::UpdateAccount => "updateAccount",
            Self::ListTokens => "listTokens",
            Self::CreateToken => "createToken",
            Self::RevokeToken => "revokeToken",
            Self::ListProjects => "listProjects",
            Self::CreateProject => "createProject",
            Self::GetProject => "getProject",
            Self::UpdateProject => "updateProject",
            Self::DeleteProject => "deleteProject",
            Self::RefreshWebhookToken => "refreshWebhookToken",
            Self::ConfirmWebhook => "confirmWebhook",
            Self::RotateWebhookUrl => "rotateWebhookUrl",
            Self::SyncNow => "syncNow",
            Self::ApplyRemovals => "applyRemovals",
            Self::DismissRemovals => "dismissRemovals",
            Self::ListSyncs => "listSyncs",
            Self::GetSchema => "getSchema",
            Self::AddSiblings => "addSiblings",
            Self::DiscoverNotionGraph => "discoverNotionGraph",
            Self::ListAlertDestinations => "listAlertDestinations",
            Self::CreateAlertDestination => "createAlertDestination",
            Self::GetAlertDestination => "getAlertDestination",
            Self::UpdateAlertDestination => "updateAlertDestination",
            Self::DeleteAlertDestination => "deleteAlertDestination",
            Self::SendTestAlert => "sendTestAlert",
        }
    }
}

/// `(pattern, [(method, operation)])`: every route the Worker serves.
pub const TABLE: &[(&str, &[(&str, Operation)])] = &[
    ("/healthz", &[("GET", Operation::GetHealth)]),
    ("/livez", &[("GET", Operation::GetLive)]),
    (
        "/webhooks/notion/{webhook_key}",
        &[("POST", Operation::ReceiveProjectWebhook)],
    ),
    (
        "/webhooks/notion",
        &[("POST", Operation::ReceiveSharedWebhook)],
    ),
    ("/api/v1/openapi.json", &[("GET", Operation::GetOpenApi)]),
    (
        "/api/v1/accounts",
        &[
            ("GET", Operation::ListAccounts),
            ("POST", Operation::CreateAccount),
        ],
    ),
    (
        "/api/v1/accounts/{account_id}",
        &[
            ("GET", Operation::GetAccount),
            ("PATCH", Operation::UpdateAccount),
        ],
    ),
    (
        "/api/v1/tokens",
        &[
            ("GET", Operation::ListTokens),
            ("POST", Operation::CreateToken),
        ],
    ),
    (
        "/api/v1/tokens/{token_id}",
        &[("DELETE", Operation::RevokeToken)],
    ),
    (
        "/api/v1/projects",
        &[
            ("GET", Operation::ListProjects),
            ("POST", Operation::CreateProject),
        ],
    ),
    (
        "/api/v1/projects/{project_id}",
        &[
            ("GET", Operation::GetProject),
            ("PATCH", Operation::UpdateProject),
            ("DELETE", Operation::DeleteProject),
        ],
    ),
    (
        "/api/v1/projects/{project_id}/webhook/refresh-token",
        &[("POST", Operation::RefreshWebhookToken)],
    ),
    (
        "/api/v1/projects/{project_id}/webhook/confirm",
        &[("POST", Operation::ConfirmWebhook)],
    ),
    (
        "/api/v1/projects/{project_id}/webhook/rotate",
        &[("POST", Operation::RotateWebhookUrl)],
    ),
    (
        "/api/v1/projects/{project_id}/sync",
        &[("POST", Operation::SyncNow)],
    ),
    (
        "/api/v1/projects/{project_id}/removals/apply",
        &[("POST", Operation::ApplyRemovals)],
    ),
    (
        "/api/v1/projects/{project_id}/removals/dismiss",
        &[("POST", Operation::DismissRemovals)],
    ),
    (
        "/api/v1/projects/{project_id}/syncs",
        &[("GET", Operation::ListSyncs)],
    ),
    (
        "/api/v1/projects/{project_id}/schema",
        &[("GET", Operation::GetSchema)],
    ),
    (
        "/api/v1/projects/{project_id}/siblings",
        &[("POST", Operation::AddSiblings)],
    ),
    (
        "/api/v1/notion/graph",
        &[("POST", Operation::DiscoverNotionGraph)],
    ),
    (
        "/api/v1/alerts",
        &[
            ("GET", Operation::ListAlertDestinations),
            ("POST", Operation::CreateAlertDestination),
        ],
    ),
    (
        "/api/v1/alerts/{alert_id}",
        &[
            ("GET", Operation::GetAlertDestination),
            ("PATCH", Operation::UpdateAlertDestination),
            ("DELETE", Operation::DeleteAlertDestination),
        ],
    ),
    (
        "/api/v1/alerts/{alert_id}/test",
        &[("POST", Operation::SendTestAlert)],
    ),
];

/// A matched request: the operation, its pattern (for logs) and the path parameter, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub operation: Operation,
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
    for (pattern, operations) in TABLE {
        if let Some(param) = match_pattern(pattern, path) {
            let Some((_, operation)) = operations.iter().find(|(m, _)| *m == method) else {
                return Err(ApiError::MethodNotAllowed {
                    allowed: operations.iter().map(|(m, _)| *m).collect(),
                });
            };
            return Ok(Matched {
                operation: *operation,
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
            (m.operation, m.param.as_deref()),
            (Operation::ReceiveProjectWebhook, Some("whk_abc"))
        );
        assert_eq!(
            resolve("POST", "/webhooks/notion").unwrap().operation,
            Operation::ReceiveSharedWebhook
        );
        let m = resolve("POST", "/api/v1/projects/p1/webhook/refresh-token/").unwrap();
        assert_eq!(
            (m.operation, m.param.as_deref()),
            (Operation::RefreshWebhookToken, Some("p1"))
        );
        for (method, operation) in [
            ("GET", Operation::GetProject),
            ("PATCH", Operation::UpdateProject),
            ("DELETE", Operation::DeleteProject),
        ] {
            let m = resolve(method, "/api/v1/projects/p1").unwrap();
            assert_eq!((m.operation, m.param.as_deref()), (operation, Some("p1")));
        }
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

#[cfg(test)]
mod openapi_tests {
    //! The OpenAPI document must describe exactly the routes of `TABLE`, and describe them fully.

    use super::{Operation, TABLE};
    use serde_json::{json, Value};

    const HTTP_METHODS: &[&str] = &[
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    const ERROR_SCHEMA: &str = "#/components/schemas/Error";

    fn document() -> Value {
        serde_json::from_str(include_str!("../../../openapi.json")).expect("openapi.json is JSON")
    }

    /// `(path, method, operation)` for every operation of the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let Some(paths) = doc["paths"].as_object() else {
            return Vec::new();
        };
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(key, _)| HTTP_METHODS.contains(&key.as_str()))
                    .map(move |(method, op)| (path.clone(), method.clone(), op.clone()))
            })
            .collect()
    }

    /// Follows a local `$ref` (`#/a/b`), or returns the value itself.
    fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Option<&'a Value> {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => doc.pointer(target.strip_prefix('#')?),
            None => Some(value),
        }
    }

    fn every_ref(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|v| every_ref(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| every_ref(v, found)),
            _ => {}
        }
    }

    fn route_problems(doc: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        for (pattern, served) in TABLE {
            for (method, operation) in *served {
                let documented = &doc["paths"][pattern][method.to_ascii_lowercase()];
                if documented.is_null() {
                    problems.push(format!("{method} {pattern} is served but not documented"));
                } else if documented["operationId"] != operation.id() {
                    problems.push(format!(
                        "{method} {pattern} is served as {} but documented as {}",
                        operation.id(),
                        documented["operationId"]
                    ));
                }
            }
        }
        for (path, method, _) in operations(doc) {
            let served = TABLE.iter().any(|(pattern, served)| {
                *pattern == path && served.iter().any(|(m, _)| m.eq_ignore_ascii_case(&method))
            });
            if !served {
                problems.push(format!("{method} {path} is documented but not served"));
            }
        }
        problems
    }

    fn operation_problems(doc: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids = Vec::new();
        for (path, method, op) in operations(doc) {
            let at = format!("{method} {path}");
            match op["operationId"].as_str() {
                Some(id) if !id.is_empty() && !ids.contains(&id.to_owned()) => {
                    ids.push(id.to_owned());
                }
                _ => problems.push(format!("{at}: missing or duplicate operationId")),
            }
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            if !responses.keys().any(|status| status.starts_with('2')) {
                problems.push(format!("{at}: no success response"));
            }
            for (status, response) in &responses {
                let schema = resolve(doc, response)
                    .map(|r| &r["content"]["application/json"]["schema"]["$ref"]);
                let error_status = status.starts_with('4') || status == "500";
                if error_status && schema != Some(&json!(ERROR_SCHEMA)) {
                    problems.push(format!("{at}: {status} does not use the error schema"));
                }
            }
            problems.extend(path_parameter_problems(doc, &path, &op, &at));
        }
        problems
    }

    /// Every `{param}` of the path template is declared as a required path parameter.
    fn path_parameter_problems(doc: &Value, path: &str, op: &Value, at: &str) -> Vec<String> {
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| resolve(doc, p))
            .filter(|p| p["in"] == "path" && p["required"] == true)
            .filter_map(|p| p["name"].as_str())
            .collect();
        path.split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .filter(|name| !declared.contains(name))
            .map(|name| format!("{at}: path parameter {name} is not declared"))
            .collect()
    }

    fn dangling_refs(doc: &Value) -> Vec<String> {
        let mut refs = Vec::new();
        every_ref(doc, &mut refs);
        refs.into_iter()
            .filter(|r| {
                r.strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer))
                    .is_none()
            })
            .map(|r| format!("dangling $ref {r}"))
            .collect()
    }

    fn all_problems(doc: &Value) -> Vec<String> {
        let mut problems = route_problems(doc);
        problems.extend(operation_problems(doc));
        problems.extend(dangling_refs(doc));
        problems
    }

    #[test]
    fn the_document_lists_exactly_the_served_routes() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(route_problems(&doc), Vec::<String>::new());
        let served: usize = TABLE.iter().map(|(_, served)| served.len()).sum();
        assert_eq!(operations(&doc).len(), served);
    }

    #[test]
    fn each_operation_is_served_once_under_its_operation_id() {
        let served: Vec<Operation> = TABLE
            .iter()
            .flat_map(|(_, served)| served.iter().map(|(_, operation)| *operation))
            .collect();
        for operation in &served {
            let times = served.iter().filter(|o| *o == operation).count();
            assert_eq!(times, 1, "{operation:?} appears {times} times in TABLE");
        }
        let doc = document();
        for (pattern, served) in TABLE {
            for (method, operation) in *served {
                assert_eq!(
                    doc["paths"][pattern][method.to_ascii_lowercase()]["operationId"],
                    operation.id(),
                    "{method} {pattern}"
                );
            }
        }
    }

    #[test]
    fn every_operation_is_complete_and_every_ref_resolves() {
        let doc = document();
        assert_eq!(operation_problems(&doc), Vec::<String>::new());
        assert_eq!(dangling_refs(&doc), Vec::<String>::new());
        let error = &doc["components"]["schemas"]["Error"]["properties"]["error"];
        assert_eq!(error["required"], json!(["code", "message"]));
        assert_eq!(error["properties"]["request_id"]["type"], "string");
    }

    #[test]
    fn security_follows_the_kind_of_route() {
        let doc = document();
        for scheme in ["adminToken", "accountToken"] {
            let s = &doc["components"]["securitySchemes"][scheme];
            assert_eq!(
                (&s["type"], &s["scheme"]),
                (&json!("http"), &json!("bearer"))
            );
        }
        for (path, method, op) in operations(&doc) {
            let want = if path.starts_with("/api/v1/accounts") {
                json!([{ "adminToken": [] }])
            } else if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                json!([{ "accountToken": [] }])
            } else {
                json!([])
            };
            assert_eq!(op["security"], want, "{method} {path}");
        }
    }

    #[test]
    fn webhooks_document_notion_bodies_and_signature() {
        let doc = document();
        for path in ["/webhooks/notion/{webhook_key}", "/webhooks/notion"] {
            let op = &doc["paths"][path]["post"];
            let header = op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["in"] == "header"));
            assert_eq!(
                header.map(|h| &h["name"]),
                Some(&json!("X-Notion-Signature"))
            );
            let body = &op["requestBody"]["content"]["application/json"]["schema"]["oneOf"];
            assert_eq!(
                body,
                &json!([
                    { "$ref": "#/components/schemas/NotionVerification" },
                    { "$ref": "#/components/schemas/NotionEvent" }
                ])
            );
            assert!(op["responses"]["401"].is_object(), "{path}: bad signatures");
        }
    }

    /// What a 4xx of an operation on `path` must name: the resource it is about.
    fn resource_of(path: &str) -> &'static str {
        match path {
            p if p.starts_with("/webhooks/") => "webhook",
            p if p.starts_with("/api/v1/alerts") => "alert destination",
            p if p.starts_with("/api/v1/projects") => "project",
            p if p.starts_with("/api/v1/accounts") => "account",
            p if p.starts_with("/api/v1/tokens") => "API token",
            _ => "",
        }
    }

    #[test]
    fn every_client_error_describes_its_own_cause() {
        let doc = document();
        for generic in ["BadRequest", "NotFound", "Conflict", "RateLimited"] {
            assert!(
                doc["components"]["responses"][generic].is_null(),
                "{generic}: one description for different causes"
            );
        }
        let mut checked = 0;
        for (path, method, op) in operations(&doc) {
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4')) {
                let description = resolve(&doc, response)
                    .and_then(|r| r["description"].as_str())
                    .unwrap_or_default();
                let at = format!("{method} {path} {status}: {description}");
                assert!(description.starts_with('`'), "{at}: names its code");
                let resource = resource_of(&path);
                match status.as_str() {
                    "400" if path.ends_with("/syncs") => {
                        assert!(description.contains("limit"), "{at}");
                    }
                    "400" if path.starts_with("/webhooks/") => {
                        assert!(description.contains("Notion"), "{at}");
                    }
                    "400" | "404" => assert!(description.contains(resource), "{at}"),
                    "429" if path.starts_with("/webhooks/") => {
                        assert!(description.contains("signatures"), "{at}");
                    }
                    "429" => assert!(description.contains("authentications"), "{at}"),
                    _ => {}
                }
                checked += 1;
            }
            if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                assert!(
                    responses.contains_key("429"),
                    "{method} {path}: failed auth is limited"
                );
            }
        }
        assert!(checked > 100, "{checked}");
        let conflict = |path: &str| {
            resolve(&doc, &doc["paths"][path]["post"]["responses"]["409"])
                .and_then(|r| r["description"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(conflict("/api/v1/alerts").contains("ten alert destinations"));
        assert!(
            conflict("/api/v1/projects/{project_id}/webhook/refresh-token")
                .contains("verification tokens")
        );
    }

    #[test]
    fn the_checks_catch_a_drifting_document() {
        let mut doc = document();
        let paths = doc["paths"].as_object_mut().unwrap();
        paths.remove("/api/v1/tokens");
        paths["/healthz"]["put"] = json!({"responses": {"200": {}}});
        paths["/api/v1/projects"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("operationId");
        paths["/api/v1/projects"]["post"]["operationId"] = json!("addProject");
        paths["/api/v1/projects/{project_id}"]["get"]["responses"]["404"] =
            json!({"description": "plain"});
        paths["/api/v1/projects/{project_id}"]["get"]["parameters"] = json!([]);
        doc["components"]["schemas"]
            .as_object_mut()
            .unwrap()
            .remove("SyncRun");
        let problems = all_problems(&doc);
        for expected in [
            "GET /api/v1/tokens is served but not documented",
            "POST /api/v1/tokens is served but not documented",
            "put /healthz is documented but not served",
            "get /api/v1/projects: missing or duplicate operationId",
            "POST /api/v1/projects is served as createProject but documented as \"addProject\"",
            "get /api/v1/projects/{project_id}: 404 does not use the error schema",
            "get /api/v1/projects/{project_id}: path parameter project_id is not declared",
            "dangling $ref #/components/schemas/SyncRun",
        ] {
            assert!(
                problems.iter().any(|p| p == expected),
                "{expected} in {problems:#?}"
            );
        }
    }
}
