//! What every handler needs from the environment: settings, D1, the cipher and the clock.

use crate::fault::RuntimeResult;
use crate::store::d1::Db;
use notion_framer_core::api::error::ApiError;
use notion_framer_core::util::secrets::Cipher;
use notion_framer_core::util::settings::Settings;
use worker::{Date, Env, ObjectNamespace};

pub struct AppContext {
    pub env: Env,
    pub settings: Settings,
    /// D1 through the handle that counts its rows written: one per context, and each
    /// invocation makes its own context.
    pub db: Db,
}

impl AppContext {
    pub fn new(env: Env) -> Result<Self, ApiError> {
        let settings = Settings::from_lookup(|name| text_binding(&env, name))?;
        let db = Db::new(env.d1("DB").fault()?);
        Ok(Self { env, settings, db })
    }

    /// The deployment's ENCRYPTION_KEY as a cipher; a missing or bad key is an operator error.
    pub fn cipher(&self) -> Result<Cipher, ApiError> {
        let key = text_binding(&self.env, "ENCRYPTION_KEY")
            .ok_or_else(|| ApiError::internal("settings", "ENCRYPTION_KEY is not configured"))?;
        Ok(Cipher::from_key(&key)?)
    }

    pub fn admin_token(&self) -> Option<String> {
        text_binding(&self.env, "ADMIN_TOKEN").filter(|t| !t.is_empty())
    }

    pub fn project_objects(&self) -> Result<ObjectNamespace, ApiError> {
        self.env.durable_object("PROJECT_SYNC").fault()
    }
}

/// A plain-text binding, whether it was declared as a var or a secret (`.dev.vars` gives vars).
pub fn text_binding(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

pub fn now_ms() -> i64 {
    // Milliseconds since the epoch fit in i64 for the next 292 million years.
    #[allow(clippy::cast_possible_wrap)]
    let ms = Date::now().as_millis() as i64;
    ms
}
