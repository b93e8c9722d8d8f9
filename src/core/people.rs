//! The people around an account: showing presence (typing, recording,
//! online), hearing theirs, their profiles, and the blocklist.

use super::{Core, CoreError};
use crate::domain::Scope;
use crate::domain::{SessionId, Wid};
use crate::session::CallFailure;
use serde_json::Value;

/// What a session can show: in a chat, or for the whole account.
pub const CHAT_STATES: &[&str] = &["typing", "recording", "paused"];
pub const ACCOUNT_STATES: &[&str] = &["online", "offline"];

/// WhatsApp's limits on a profile's name and about.
const MAX_NAME: usize = 25;
const MAX_ABOUT: usize = 139;
/// A profile picture, before WhatsApp Web makes it 640 px.
pub const MAX_PICTURE: usize = 5 << 20;

/// A change to this account's profile; what is `None` stays.
#[derive(Default)]
pub struct ProfileEdit {
    pub name: Option<String>,
    pub about: Option<String>,
    /// `Some(None)`: remove the picture; `Some(Some(bytes))`: a JPEG or PNG.
    pub picture: Option<Option<Vec<u8>>>,
    /// A business account's business profile.
    pub business: Option<BusinessEdit>,
}

/// A change to a business account's business profile; what is `None`
/// stays, an empty text clears its field.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct BusinessEdit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its websites, all of them (at most two); empty: none.
    #[serde(rename = "website", skip_serializing_if = "Option::is_none")]
    pub websites: Option<Vec<String>>,
}

impl BusinessEdit {
    /// WhatsApp Business's limits (those the Cloud API states).
    pub fn check(&self) -> Result<(), CoreError> {
        for (field, value, max) in [
            ("description", &self.description, 512),
            ("address", &self.address, 256),
            ("email", &self.email, 128),
        ] {
            if value.as_deref().is_some_and(|v| v.chars().count() > max) {
                return Err(CoreError::invalid(
                    field,
                    format!("must be at most {max} characters"),
                ));
            }
        }
        if let Some(e) = self.email.as_deref().filter(|e| !e.is_empty())
            && !e.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && !e.contains(char::is_whitespace)
                    && host.contains('.')
                    && host.split('.').all(|part| !part.is_empty())
            })
        {
            return Err(CoreError::invalid("email", "must be an email address"));
        }
        if let Some(sites) = &self.websites {
            if sites.len() > 2 {
                return Err(CoreError::invalid("websites", "are at most 2"));
            }
            if let Some(bad) = sites.iter().find(|u| {
                let rest = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"));
                u.chars().count() > 256 || rest.is_none_or(|r| r.is_empty() || r.contains(' '))
            }) {
                return Err(CoreError::invalid(
                    "websites",
                    format!("must be http(s) URLs of at most 256 characters, not {bad:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// A picture change as bridge.js takes it: `Some(None)` removes the
/// picture, `Some(Some(url))` sets it (a profile's or a group's).
pub(super) fn picture_change(
    p: &Option<Option<Vec<u8>>>,
) -> Result<Option<Option<String>>, CoreError> {
    p.as_ref()
        .map(|p| p.as_deref().map(picture_data_url).transpose())
        .transpose()
}

/// A picture as the data URL wa-js takes.
fn picture_data_url(bytes: &[u8]) -> Result<String, CoreError> {
    use base64::Engine as _;
    // WhatsApp Web makes a JPEG of any of these.
    let Some(mime) = super::media::image_type(bytes) else {
        return Err(CoreError::invalid(
            "picture",
            "must be a JPEG, PNG, GIF or WebP image",
        ));
    };
    if bytes.len() > MAX_PICTURE {
        return Err(CoreError::invalid("picture", "must be at most 5 MB"));
    }
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn page(e: crate::session::CallError) -> CoreError {
    CoreError::from(CallFailure::from(e))
}

impl Core {
    /// `typing`, `recording` or `paused` in `chat`; `online` or `offline`
    /// without one.
    pub async fn presence(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        state: &str,
    ) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        match chat {
            Some(_) if !CHAT_STATES.contains(&state) => {
                return Err(CoreError::invalid(
                    "state",
                    "in a chat must be typing, recording or paused",
                ));
            }
            None if !ACCOUNT_STATES.contains(&state) => {
                return Err(CoreError::invalid(
                    "state",
                    "without a chat must be online or offline",
                ));
            }
            _ => {}
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.presence(chat, state).await.map_err(page)
    }

    /// Contacts whose presence comes as `presence.update` events from now on.
    pub async fn subscribe_presence(
        &self,
        session: &SessionId,
        ids: &[Wid],
    ) -> Result<Vec<String>, CoreError> {
        self.may(session, Scope::Send)?;
        if ids.is_empty() || ids.len() > 256 {
            return Err(CoreError::invalid(
                "contacts",
                "must name 1 to 256 contacts",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.subscribe_presence(ids).await.map_err(page)
    }

    /// A person's presence: online, or when last seen where they show it.
    /// Asking subscribes to it (for a key that may send: subscribing is
    /// what `subscribe_presence` does), so later asks answer from what
    /// WhatsApp keeps telling.
    pub async fn presence_of(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<crate::session::Presence, CoreError> {
        self.may(session, Scope::Read)?;
        if id.is_group() {
            return Err(CoreError::invalid("phone", "must be a person, not a group"));
        }
        let subscribe = self.may(session, Scope::Send).is_ok();
        let bridge = self.manager.bridge(session).await?;
        let mut p = bridge.presence_of(id, subscribe).await.map_err(page)?;
        // WhatsApp answers a subscription over the socket, a moment later:
        // asked again for up to a second (here, not in a background page,
        // whose timers Chromium throttles).
        let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while subscribe && !p.known && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            p = bridge.presence_of(id, false).await.map_err(page)?;
        }
        Ok(p)
    }

    pub async fn profile(&self, session: &SessionId, id: &Wid) -> Result<Value, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.profile(id).await.map_err(page)
    }

    /// The privacy id and the phone WhatsApp pairs for a person, asked by
    /// either: `{id, lid, phone}` (the phone's digits; null where WhatsApp
    /// tells none, or the number is not on WhatsApp).
    pub async fn lid_and_phone(&self, session: &SessionId, id: &Wid) -> Result<Value, CoreError> {
        self.may(session, Scope::Read)?;
        if id.as_str().ends_with("@g.us") {
            return Err(CoreError::invalid("phone", "must be a person, not a group"));
        }
        let bridge = self.manager.bridge(session).await?;
        let v = bridge.lid_and_phone(id).await.map_err(page)?;
        // Read field by field: whatever the page answered, no panic.
        Ok(serde_json::json!({"id": id, "lid": v["lid"], "phone": v["phone"]}))
    }

    /// What this account shows of itself: `{id, name, about, picture_url,
    /// business}` (`business`: a business account's business profile,
    /// `{description, email, website, address, categories}`; null for
    /// another).
    pub async fn my_profile(&self, session: &SessionId) -> Result<Value, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.my_profile().await.map_err(page)
    }

    /// Changes this account's picture, business profile, about and name,
    /// in that order (as its contacts see them); answers the profile
    /// after. Nothing changes when a field is invalid, or a business
    /// profile is asked of an account that is no business; a picture
    /// WhatsApp refuses changes nothing else.
    pub async fn edit_my_profile(
        &self,
        session: &SessionId,
        e: &ProfileEdit,
    ) -> Result<Value, CoreError> {
        self.may(session, Scope::Manage)?;
        let name = e.name.as_deref().map(str::trim);
        if name.is_some_and(|n| n.is_empty() || n.chars().count() > MAX_NAME) {
            return Err(CoreError::invalid("name", "must be 1 to 25 characters"));
        }
        if e.about
            .as_deref()
            .is_some_and(|a| a.chars().count() > MAX_ABOUT)
        {
            return Err(CoreError::invalid(
                "about",
                "must be at most 139 characters",
            ));
        }
        let picture = picture_change(&e.picture)?;
        // One with nothing to change still asks that the account be a
        // business (the Cloud API's vertical alone).
        let business = e.business.as_ref();
        if let Some(b) = business {
            b.check()?;
        }
        if name.is_none() && e.about.is_none() && picture.is_none() && business.is_none() {
            return Err(CoreError::invalid(
                "name",
                "or 'about', 'picture' or 'business' is required",
            ));
        }
        let mut change = serde_json::json!({"name": name, "about": e.about});
        if let Some(p) = picture {
            change["picture"] = serde_json::json!(p);
        }
        if let Some(b) = business {
            change["business"] = serde_json::json!(b);
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.set_my_profile(&change).await.map_err(|e| match e {
            crate::session::CallError::Page(m) if m.starts_with("NAME_NOT_SETTABLE: ") => {
                CoreError::Conflict {
                    code: "name_not_settable",
                    message: m.trim_start_matches("NAME_NOT_SETTABLE: ").to_string(),
                }
            }
            crate::session::CallError::Page(m) if m.starts_with("NOT_BUSINESS: ") => {
                CoreError::Conflict {
                    code: "not_business",
                    message: m.trim_start_matches("NOT_BUSINESS: ").to_string(),
                }
            }
            e => page(e),
        })?;
        tracing::info!(session = %session, "profile changed");
        bridge.my_profile().await.map_err(page)
    }

    /// Everyone this account blocked (WhatsApp ids).
    pub async fn blocklist(&self, session: &SessionId) -> Result<Vec<String>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.blocked().await.map_err(page)
    }

    pub async fn block(&self, session: &SessionId, id: &Wid, yes: bool) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if id.phone().is_none() {
            return Err(CoreError::invalid("phone", "must be a person, not a group"));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.block(id, yes).await.map_err(page)?;
        tracing::info!(session = %session, blocked = yes, "blocklist changed");
        Ok(())
    }
}
