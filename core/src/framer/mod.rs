//! Framer's Server API as the sync speaks it: the CMS model (fields, values, items), the
//! message layer of the official client and devalue, where a connection goes, and what a
//! failure means.

pub mod cms;
pub mod devalue;
pub mod error;
pub mod project_url;
pub mod wire;
