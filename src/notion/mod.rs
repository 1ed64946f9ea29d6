//! Notion as the sync sees it: ids, webhook events and their signatures, the REST protocol
//! (errors, retries, pacing) and page bodies rendered to HTML.

pub mod event;
pub mod ids;
pub mod page_html;
pub mod protocol;
pub mod signature;
