//! Framer's Server API as the sync speaks it: the CMS model (fields, values, items), the
//! message layer of the official client and devalue, the encoding of every frame.

pub mod cms;
pub mod devalue;
pub mod wire;
