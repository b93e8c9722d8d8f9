//! WhatsApp Business labels: the account's labels, made, renamed,
//! recoloured and deleted, and put on chats or taken off them. WhatsApp
//! keeps them on the phone and every device. Only a business account has
//! labels: any other is answered 409 `not_business`.

use super::error::{Refusal, refusal};
use super::{Core, CoreError};
use crate::domain::{Scope, SessionId, Wid};
use crate::session::{CallError, Label, Labels};

/// What WhatsApp takes as a label's name.
fn label_name(name: &str) -> Result<&str, CoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CoreError::invalid("name", "must be 1 to 100 characters"));
    }
    Ok(name)
}

/// A colour as `#rrggbb` (WhatsApp then checks it is in its palette).
fn label_color(color: Option<&str>) -> Result<Option<String>, CoreError> {
    match color {
        None => Ok(None),
        Some(c) => {
            let hex = c.strip_prefix('#').unwrap_or(c);
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CoreError::invalid(
                    "color",
                    "must be #rrggbb, one of the palette GET .../labels lists",
                ));
            }
            Ok(Some(format!("#{}", hex.to_ascii_lowercase())))
        }
    }
}

/// A label id as WhatsApp numbers them.
fn label_id(id: &str) -> Result<&str, CoreError> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CoreError::invalid("label", "is not a label id"));
    }
    Ok(id)
}

fn page(e: CallError) -> CoreError {
    refusal(
        e,
        &[
            ("NOT_BUSINESS", Refusal::Conflict("not_business")),
            ("LABEL_NOT_FOUND", Refusal::NotFound("label_not_found")),
            ("CHAT_NOT_FOUND", Refusal::NotFound("chat_not_found")),
            ("BAD_COLOR", Refusal::Invalid("color")),
        ],
    )
}

impl Core {
    /// The account's labels, and the colours a label may have.
    pub async fn labels(&self, session: &SessionId) -> Result<Labels, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.labels().await.map_err(page)
    }

    /// A new label; WhatsApp picks its colour when none is given.
    pub async fn create_label(
        &self,
        session: &SessionId,
        name: &str,
        color: Option<&str>,
    ) -> Result<Label, CoreError> {
        self.may(session, Scope::Send)?;
        let (name, color) = (label_name(name)?, label_color(color)?);
        let bridge = self.manager.bridge(session).await?;
        bridge.add_label(name, color.as_deref()).await.map_err(page)
    }

    /// Renames or recolours a label (what is None stays).
    pub async fn edit_label(
        &self,
        session: &SessionId,
        id: &str,
        name: Option<&str>,
        color: Option<&str>,
    ) -> Result<Label, CoreError> {
        self.may(session, Scope::Send)?;
        let id = label_id(id)?;
        if name.is_none() && color.is_none() {
            return Err(CoreError::invalid("name", "or 'color' is required"));
        }
        let name = name.map(label_name).transpose()?;
        let color = label_color(color)?;
        let bridge = self.manager.bridge(session).await?;
        bridge
            .edit_label(id, name, color.as_deref())
            .await
            .map_err(page)
    }

    /// Deletes a label: it comes off every chat.
    pub async fn delete_label(&self, session: &SessionId, id: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let id = label_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.delete_label(id).await.map_err(page)
    }

    /// Puts a label on chats and takes it off others; the label after.
    pub async fn label_chats(
        &self,
        session: &SessionId,
        id: &str,
        add: &[Wid],
        remove: &[Wid],
    ) -> Result<Label, CoreError> {
        self.may(session, Scope::Send)?;
        let id = label_id(id)?;
        if add.is_empty() && remove.is_empty() {
            return Err(CoreError::invalid("add", "or 'remove' must name a chat"));
        }
        if let Some(both) = add.iter().find(|w| remove.contains(w)) {
            return Err(CoreError::invalid(
                "remove",
                format!("names {both}, which 'add' names too"),
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.label_chats(id, add, remove).await.map_err(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_colours_and_ids_are_checked_before_whatsapp_is_asked() {
        assert_eq!(label_name("  Paid ").unwrap(), "Paid");
        assert!(label_name(" ").is_err());
        assert!(label_name(&"x".repeat(101)).is_err());
        assert_eq!(
            label_color(Some("#FF9DFF")).unwrap().as_deref(),
            Some("#ff9dff")
        );
        assert_eq!(
            label_color(Some("ff9dff")).unwrap().as_deref(),
            Some("#ff9dff")
        );
        for bad in ["red", "#ff9df", "#gg9dff"] {
            assert!(label_color(Some(bad)).is_err(), "{bad}");
        }
        assert!(label_id("12").is_ok());
        assert!(label_id("1/2").is_err() && label_id("").is_err());
    }
}
