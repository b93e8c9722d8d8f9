//! Message templates: text with `{{1}}`, `{{2}}` placeholders, registered
//! once and sent by name (the Cloud API's `template` messages).

use super::{Core, CoreError};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Template {
    pub name: String,
    /// The text, with `{{1}}`, `{{2}}`, ... where parameters go.
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

fn check_name(name: &str) -> Result<(), CoreError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "name",
            "must be 1 to 512 letters, digits, '_', '-' or '.'",
        ))
    }
}

impl Core {
    /// Templates are shared by every session: the admin key's to change.
    pub fn put_template(&self, t: Template) -> Result<Template, CoreError> {
        self.access.check_admin()?;
        check_name(&t.name)?;
        if t.body.trim().is_empty() {
            return Err(CoreError::invalid("body", "must not be empty"));
        }
        self.store
            .put_template(&t.name, &serde_json::to_value(&t).unwrap_or_default())?;
        Ok(t)
    }

    pub fn template(&self, name: &str) -> Result<Option<Template>, CoreError> {
        Ok(self
            .store
            .template(name)?
            .and_then(|v| serde_json::from_value(v).ok()))
    }

    pub fn templates(&self) -> Result<Vec<Template>, CoreError> {
        Ok(self
            .store
            .templates()?
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }

    pub fn delete_template(&self, name: &str) -> Result<(), CoreError> {
        self.access.check_admin()?;
        if self.store.delete_template(name)? {
            Ok(())
        } else {
            Err(CoreError::NotFound {
                code: "template_not_found",
                message: format!("no template '{name}'"),
            })
        }
    }
}
