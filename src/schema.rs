//! `GET /api/v1/projects/{id}/schema`: the Notion properties, the Framer fields and the proposed
//! mapping, with the project's graph; `POST /api/v1/notion/graph`: the same graph before a project
//! exists; and how a Notion id given as a database or a data source is resolved.

use super::api::{Caller, Owned};
use super::context::AppContext;
use super::framer_socket::{self, FramerSocket};
use super::http::{self, Reply};
use super::notion_api::NotionClient;
use super::store;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::api::input::{GraphQuery, PublishFilter};
use notion_framer_core::framer::cms;
use notion_framer_core::framer::error::FramerError;
use notion_framer_core::framer::wire::Call;
use notion_framer_core::notion::error::NotionError;
use notion_framer_core::notion::schema::parse_schema;
use notion_framer_core::notion::{graph, ids, protocol};
use notion_framer_core::project::Project;
use notion_framer_core::sync::mapping;
use notion_framer_core::sync::publish_filter;
use notion_framer_core::sync::site::SiteMember;
use notion_framer_core::util::secrets::ProjectSecret;
use serde_json::{json, Value};
use worker::Request;

pub async fn handle(owned: &Owned<'_>) -> Result<Reply, ApiError> {
    let (ctx, project) = (owned.ctx, &owned.project);
    let cipher = ctx.cipher()?;
    let secret =
        |stored: &str, which: ProjectSecret| cipher.decrypt(stored, &which.context(&project.id));
    let mut notion = NotionClient::for_api(
        ctx,
        secret(&project.notion_token_enc, ProjectSecret::NotionToken)?,
    );
    let data_source = read_data_source(&mut notion, project).await?;
    let schema = parse_schema(&data_source).map_err(|e| ApiError::Unprocessable {
        code: "notion_not_a_database",
        message: e.to_string(),
    })?;
    let stored = project.mapping.as_ref().and_then(|m| m.mapping());
    let siblings = store::projects::collection_siblings(&ctx.db, project).await?;
    let mut synced = store::projects::synced_collections(&siblings);
    // A relation of the data source to itself points into the project's own collection, as the
    // sync maps it (known once the first run created or found the collection).
    if let (Some(own), Some(collection)) = (
        data_source.get("id").and_then(Value::as_str),
        project.framer_collection_id.as_deref(),
    ) {
        synced.insert(
            notion_framer_core::notion::ids::canonical(own),
            collection.to_owned(),
        );
    }
    let (proposed, changes) = mapping::reconcile_schema(&schema, stored, &synced);
    let properties: Vec<Value> = schema
        .properties
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "type": p.kind.notion_type(), "allowed_field_types": mapping::allowed_kinds(&p.kind).iter().map(|k| k.wire_name()).collect::<Vec<_>>()}))
        .collect();
    let framer = framer_fields(
        ctx,
        project,
        &secret(&project.framer_api_key_enc, ProjectSecret::FramerApiKey)?,
    )
    .await;
    // Like Framer's half, a graph Notion would not finish is reported in place: the mapping
    // is still what the owner came for.
    let graph = match project_graph(ctx, &mut notion, project).await {
        Ok(graph) => graph,
        Err(e) => json!({"error": {"code": e.code(), "message": e.message()}}),
    };
    Ok(owned.reply(
        200,
        &json!({
            "notion": {"data_source_id": data_source.get("id"), "properties": properties},
            "framer": framer,
            "mapping": proposed,
            "changes": changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "graph": graph,
        }),
    ))
}

/// The project's graph: its database's other data sources and what they relate to, with
/// the site's project syncing each.
async fn project_graph(
    ctx: &AppContext,
    notion: &mut NotionClient,
    project: &Project,
) -> Result<Value, ApiError> {
    let resolved = Resolved {
        database_id: project.notion_database_id.clone(),
        data_source_id: project.notion_data_source_id.as_deref().map(ids::canonical),
        database: notion.database(&project.notion_database_id).await?,
    };
    let offer = offer(notion, &resolved).await?;
    let site = store::projects::site_of(&ctx.db, &project.id).await?;
    Ok(offer.to_json(synced_by(&site)))
}

async fn read_data_source(
    notion: &mut NotionClient,
    project: &Project,
) -> Result<Value, NotionError> {
    data_source_of(
        notion,
        &project.notion_database_id,
        project.notion_data_source_id.as_deref(),
    )
    .await
}

/// The data source a project syncs: the one it stored, else the database's first.
async fn data_source_of(
    notion: &mut NotionClient,
    database_id: &str,
    data_source_id: Option<&str>,
) -> Result<Value, NotionError> {
    if let Some(id) = data_source_id {
        return notion.data_source(id).await;
    }
    let ids = protocol::data_source_ids(&notion.database(database_id).await?);
    match ids.first() {
        Some(id) => notion.data_source(id).await,
        None => Err(NotionError::NotShared {
            message: "the database has no data source".into(),
        }),
    }
}

/// A publish filter checked against the data source's schema as Notion shows it now, in the
/// form to store (property id, option names and ids); a filter that does not fit is a 400
/// naming the field.
pub async fn checked_filter(
    ctx: &AppContext,
    notion_token: String,
    database_id: &str,
    data_source_id: Option<&str>,
    filter: &PublishFilter,
) -> Result<PublishFilter, ApiError> {
    let mut notion = NotionClient::for_api(ctx, notion_token);
    let data_source = data_source_of(&mut notion, database_id, data_source_id).await?;
    let schema = parse_schema(&data_source).map_err(|e| ApiError::Unprocessable {
        code: "notion_not_a_database",
        message: e.to_string(),
    })?;
    publish_filter::resolve(filter, &schema)
        .map_err(|problem| ApiError::validation(problem.field(), problem.to_string()))
}

/// The collection's current fields; a Framer problem is reported in place, not as a failure,
/// since the Notion half of the answer is still useful.
async fn framer_fields(ctx: &AppContext, project: &Project, key: &str) -> Value {
    let ws = match framer_socket::open(
        &ctx.settings.framer_server_url,
        &project.framer_project_url,
        key,
    )
    .await
    {
        Ok(ws) => ws,
        Err(e) => return json!({"error": {"code": e.code(), "message": e.user_message()}}),
    };
    let mut socket = match FramerSocket::start(&ws).await {
        Ok(socket) => socket,
        Err(e) => {
            let _ = ws.close(Some(1000), Some("handshake failed"));
            return json!({"error": {"code": e.code(), "message": e.user_message()}});
        }
    };
    let answer = collection_fields(&mut socket, project).await;
    socket.disconnect().await;
    answer.unwrap_or_else(|e| json!({"error": {"code": e.code(), "message": e.user_message()}}))
}

async fn collection_fields(
    socket: &mut FramerSocket<'_>,
    project: &Project,
) -> Result<Value, FramerError> {
    let managed = socket.call(Call::GetManagedCollections).await?;
    let by_id = project.framer_collection_id.as_deref();
    let list = managed.as_array().cloned().unwrap_or_default();
    let found = list
        .iter()
        .find(|c| by_id.is_some_and(|id| c["id"] == id))
        .or_else(|| {
            list.iter()
                .find(|c| c["name"] == project.framer_collection_name.as_str())
        });
    let Some(collection_id) = found.and_then(|c| c["id"].as_str()) else {
        return Ok(json!({"collection_id": null, "fields": []}));
    };
    let fields = socket
        .call(Call::GetFields {
            collection_id: collection_id.to_owned(),
        })
        .await?;
    let fields: Vec<Value> = cms::fields_from_wire(&fields)
        .unwrap_or_default()
        .iter()
        .map(cms::FieldDef::to_wire)
        .collect();
    Ok(json!({"collection_id": collection_id, "fields": fields}))
}

/// A Notion id as the owner gave it, resolved: a database id, or a data source id (then its
/// database, and that data source is the one the project syncs).
pub struct Resolved {
    pub database_id: String,
    pub data_source_id: Option<String>,
    pub database: Value,
}

/// Reads the id as a database, else as a data source (Notion 2025-09-03 shows both ids).
pub async fn resolve(notion: &mut NotionClient, id: &str) -> Result<Resolved, NotionError> {
    match notion.database(id).await {
        Ok(database) => Ok(Resolved {
            database_id: id.to_owned(),
            data_source_id: None,
            database,
        }),
        Err(NotionError::NotShared { message }) => {
            let Ok(data_source) = notion.data_source(id).await else {
                // Neither: Notion's answer about the database is the one to show.
                return Err(NotionError::NotShared { message });
            };
            let database_id = data_source
                .pointer("/parent/database_id")
                .and_then(Value::as_str)
                .map(ids::canonical)
                .ok_or(NotionError::NotShared { message })?;
            let database = notion.database(&database_id).await?;
            Ok(Resolved {
                database_id,
                data_source_id: Some(ids::canonical(id)),
                database,
            })
        }
        Err(e) => Err(e),
    }
}

/// The graph from a resolved database: its data sources, then what they relate to.
pub async fn offer(
    notion: &mut NotionClient,
    resolved: &Resolved,
) -> Result<graph::Offer, NotionError> {
    let database_sources = graph::database_sources(&resolved.database);
    let chosen = resolved
        .data_source_id
        .clone()
        .or_else(|| database_sources.first().map(|(id, _)| id.clone()))
        .ok_or_else(|| NotionError::NotShared {
            message: "the database has no data source".into(),
        })?;
    let start: Vec<String> = database_sources.iter().map(|(id, _)| id.clone()).collect();
    let mut walk = graph::Walk::new(&start);
    while let Some(id) = walk.next_to_read() {
        match notion.data_source(&id).await {
            Ok(answer) => match graph::source_info(&answer) {
                Some(info) => walk.read(info),
                None => walk.unreadable(&id),
            },
            Err(NotionError::NotShared { .. }) => walk.unreadable(&id),
            Err(e) => return Err(e),
        }
    }
    Ok(graph::Offer {
        database_id: resolved.database_id.clone(),
        database_name: graph::title_text(resolved.database.get("title")),
        database_sources,
        chosen,
        graph: walk.finish(),
    })
}

/// Which project of the site syncs a data source, for the graph's `synced_by`.
pub fn synced_by(site: &[SiteMember]) -> impl Fn(&str) -> Option<String> + '_ {
    move |id: &str| {
        site.iter()
            .find(|m| m.data_source_id.as_deref() == Some(ids::canonical(id).as_str()))
            .map(|m| m.project_id.clone())
    }
}

/// `POST /api/v1/notion/graph`: what the Connect step offers before the project exists.
pub async fn discover(caller: &Caller<'_>, req: &mut Request) -> Result<Reply, ApiError> {
    let body: Value = http::read_json(req).await?;
    let input = GraphQuery::parse(&body)?;
    let ctx = caller.ctx;
    let mut notion = NotionClient::for_api(ctx, input.notion_token);
    let resolved = resolve(&mut notion, &input.database_id).await?;
    let offer = offer(&mut notion, &resolved).await?;
    let site = match &input.framer_project_url {
        Some(url) => store::projects::site_members(&ctx.db, &caller.account.id, url).await?,
        None => Vec::new(),
    };
    Ok(Reply::json(
        200,
        &json!({ "graph": offer.to_json(synced_by(&site)) }),
    ))
}
