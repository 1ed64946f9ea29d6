//! Notion as the sync sees it: ids, webhook events and their signatures, the REST protocol
//! (errors, retries, pacing), data source schemas, property values in page JSON, and page
//! bodies rendered to HTML.

pub mod error;
pub mod event;
pub mod ids;
pub mod page_html;
pub mod protocol;
pub mod schema;
pub mod signature;
pub mod values;

#[cfg(test)]
pub(crate) mod fixtures;
