//! The address book: the people WhatsApp Web knows, with the names this
//! account saved them under, and contacts saved, renamed and removed.
//! WhatsApp keeps the address book in its app state, so a change here
//! reaches the phone and a change on the phone reaches every device.

use super::error::{Refusal, refusal};
use super::{Core, CoreError};
use crate::domain::{Scope, SessionId, Wid};
use crate::session::{CallError, Contact};

/// WhatsApp's limit on each part of a saved name.
const MAX_NAME: usize = 100;

fn page(e: CallError) -> CoreError {
    refusal(
        e,
        &[("CONTACT_NOT_SAVED", Refusal::NotFound("contact_not_found"))],
    )
}

/// A part of a saved name, trimmed; the first is required.
fn name_part<'a>(field: &str, v: &'a str, required: bool) -> Result<&'a str, CoreError> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(CoreError::invalid(field, "is required"));
    }
    if v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            field,
            format!("must be at most {MAX_NAME} characters, on one line"),
        ));
    }
    Ok(v)
}

/// Only a person goes in an address book: by phone, or by the privacy id
/// the list gives one whose phone is hidden.
fn person(id: &Wid) -> Result<(), CoreError> {
    match id.phone().is_some() || id.as_str().ends_with("@lid") {
        true => Ok(()),
        false => Err(CoreError::invalid(
            "phone",
            "must be a person (a phone number or a privacy id), not a group",
        )),
    }
}

impl Core {
    /// The people WhatsApp Web knows, by name; `saved_only`: those in the
    /// address book.
    pub async fn contacts(
        &self,
        session: &SessionId,
        saved_only: bool,
    ) -> Result<Vec<Contact>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        let mut all = bridge.contacts().await.map_err(page)?;
        all.retain(|c| c.saved || !saved_only);
        // Saved ones by name, as the phone lists them; then the others.
        all.sort_by(|a, b| {
            (!a.saved, a.name.as_deref().map(str::to_lowercase), &a.id).cmp(&(
                !b.saved,
                b.name.as_deref().map(str::to_lowercase),
                &b.id,
            ))
        });
        Ok(all)
    }

    /// The people this account has a chat with whom its address book does
    /// not hold (by number or by privacy id).
    pub async fn strangers_with_chats(
        &self,
        session: &SessionId,
    ) -> Result<Vec<Contact>, CoreError> {
        self.may(session, Scope::Read)?;
        let chats: std::collections::HashSet<String> = self
            .chats(session)
            .await?
            .into_iter()
            .filter(|c| {
                Wid::parse(&c.id).is_ok_and(|w| w.phone().is_some() || w.as_str().ends_with("@lid"))
            })
            .map(|c| c.id)
            .collect();
        let mut people = self.contacts(session, false).await?;
        people.retain(|c| {
            !c.saved && (chats.contains(&c.id) || c.lid.as_ref().is_some_and(|l| chats.contains(l)))
        });
        Ok(people)
    }

    /// One person WhatsApp Web knows; `None` for one it does not.
    pub async fn known_contact(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<Option<Contact>, CoreError> {
        self.may(session, Scope::Read)?;
        person(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.contact(id).await.map_err(page)
    }

    /// Saves a contact under a name, or renames one already saved.
    pub async fn save_contact(
        &self,
        session: &SessionId,
        id: &Wid,
        first: &str,
        last: Option<&str>,
        phone_book: bool,
    ) -> Result<Contact, CoreError> {
        self.may(session, Scope::Send)?;
        person(id)?;
        let first = name_part("first_name", first, true)?;
        let last = name_part("last_name", last.unwrap_or(""), false)?;
        let bridge = self.manager.bridge(session).await?;
        let c = bridge
            .save_contact(id, first, last, phone_book)
            .await
            .map_err(page)?;
        tracing::info!(session = %session, "contact saved");
        Ok(c)
    }

    /// Takes a contact out of the address book (404 `contact_not_found`
    /// for one not in it).
    pub async fn remove_contact(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        person(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.remove_contact(id).await.map_err(page)?;
        tracing::info!(session = %session, "contact removed");
        Ok(())
    }
}
