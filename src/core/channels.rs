//! WhatsApp Channels (newsletters): the ones the account runs or follows,
//! made, edited and deleted by their owner, followed, unfollowed and muted,
//! and found in WhatsApp's directory. Posting is a send to the channel's
//! id (`core::send`); a followed channel's posts arrive as messages in its
//! chat.

use super::error::{Refusal, refusal};
use super::{Core, CoreError};
use crate::domain::{Scope, SessionId, Wid};
use crate::session::{CallError, Channel, ChannelChange, ChannelPage};

/// WhatsApp's limits on a channel's name and description (characters).
pub const MAX_CHANNEL_NAME: usize = 100;
pub const MAX_CHANNEL_DESCRIPTION: usize = 2048;

/// The most channels one directory page lists.
pub const MAX_CHANNEL_PAGE: u32 = 100;

/// A new channel, or a change to one; what is `None` stays.
#[derive(Default)]
pub struct ChannelEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)`: remove the picture; `Some(Some(bytes))`: an image.
    pub picture: Option<Option<Vec<u8>>>,
}

fn channel_name(name: &str) -> Result<&str, CoreError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_CHANNEL_NAME {
        return Err(CoreError::invalid(
            "name",
            format!("must be 1 to {MAX_CHANNEL_NAME} characters"),
        ));
    }
    Ok(name)
}

/// Kept as written (line breaks are part of it). wa-js cannot empty one.
fn channel_description(d: &str) -> Result<&str, CoreError> {
    if d.trim().is_empty() {
        return Err(CoreError::invalid(
            "description",
            "cannot be emptied (WhatsApp Web keeps the one it has); leave it out to keep it",
        ));
    }
    if d.chars().count() > MAX_CHANNEL_DESCRIPTION {
        return Err(CoreError::invalid(
            "description",
            format!("must be at most {MAX_CHANNEL_DESCRIPTION} characters"),
        ));
    }
    Ok(d)
}

fn page(e: CallError) -> CoreError {
    refusal(
        e,
        &[
            ("CHANNEL_NOT_FOUND", Refusal::NotFound("channel_not_found")),
            ("NOT_CHANNEL_ADMIN", Refusal::Conflict("not_channel_admin")),
            ("CHANNEL_ADMIN", Refusal::Conflict("channel_admin")),
            ("PICTURE_AT_RISK", Refusal::Conflict("picture_at_risk")),
            ("CHANNEL_CLOSED", Refusal::Conflict("channel_closed")),
        ],
    )
}

fn channel_id(id: &Wid) -> Result<(), CoreError> {
    if !id.is_channel() {
        return Err(CoreError::invalid(
            "channel",
            "must be a channel id (…@newsletter)",
        ));
    }
    Ok(())
}

impl Core {
    /// Only a channel's admins post to it: asked before a send, so a post
    /// to one the account follows is a clear 409, not WhatsApp's refusal.
    pub(super) async fn may_post_to(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        let bridge = self.manager.bridge(session).await?;
        let c = bridge.channel(id).await.map_err(page)?;
        match c.role.as_str() {
            "owner" | "admin" => Ok(()),
            _ => Err(CoreError::Conflict {
                code: "not_channel_admin",
                message: format!("only the admins of channel {id} post to it"),
            }),
        }
    }

    /// The channels the account runs or follows, newest first.
    pub async fn channels(&self, session: &SessionId) -> Result<Vec<Channel>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.channels().await.map_err(page)
    }

    /// One the account runs or follows (404 `channel_not_found` else).
    pub async fn channel(&self, session: &SessionId, id: &Wid) -> Result<Channel, CoreError> {
        self.may(session, Scope::Read)?;
        channel_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.channel(id).await.map_err(page)
    }

    /// A new channel, which this account owns.
    pub async fn create_channel(
        &self,
        session: &SessionId,
        e: &ChannelEdit,
    ) -> Result<Channel, CoreError> {
        self.may(session, Scope::Send)?;
        let name = channel_name(e.name.as_deref().unwrap_or(""))?;
        let description = e
            .description
            .as_deref()
            .map(channel_description)
            .transpose()?;
        let picture = match super::people::picture_change(&e.picture)? {
            Some(None) => {
                return Err(CoreError::invalid(
                    "picture",
                    "is an image for a new channel (null only takes one away)",
                ));
            }
            p => p.flatten(),
        };
        let bridge = self.manager.bridge(session).await?;
        bridge
            .create_channel(name, description, picture.as_deref())
            .await
            .map_err(page)
    }

    /// Renames it, describes it, changes its picture (its admins only);
    /// the channel after.
    pub async fn edit_channel(
        &self,
        session: &SessionId,
        id: &Wid,
        e: &ChannelEdit,
    ) -> Result<Channel, CoreError> {
        self.may(session, Scope::Send)?;
        channel_id(id)?;
        let change = ChannelChange {
            name: e
                .name
                .as_deref()
                .map(channel_name)
                .transpose()?
                .map(String::from),
            description: (e.description.as_deref())
                .map(channel_description)
                .transpose()?
                .map(String::from),
            picture: super::people::picture_change(&e.picture)?,
        };
        if change.name.is_none() && change.description.is_none() && change.picture.is_none() {
            return Err(CoreError::invalid(
                "name",
                "or 'description' or 'picture' is required",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.edit_channel(id, &change).await.map_err(page)
    }

    /// Deletes a channel this account owns, for every follower.
    pub async fn delete_channel(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        channel_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.delete_channel(id).await.map_err(page)
    }

    /// Follows a channel (its posts come as messages from now on); the
    /// channel after. Following one already followed changes nothing.
    pub async fn follow_channel(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<Channel, CoreError> {
        self.may(session, Scope::Send)?;
        channel_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        match bridge.follow_channel(id, true).await.map_err(page)? {
            Some(c) => Ok(c),
            None => Err(CoreError::Internal(
                "a followed channel the page does not list".into(),
            )),
        }
    }

    /// Unfollows a channel; one not followed is left as it is.
    pub async fn unfollow_channel(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        channel_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge
            .follow_channel(id, false)
            .await
            .map_err(page)
            .map(drop)
    }

    /// Mutes or unmutes a followed channel's notifications (its posts still
    /// come); the channel after.
    pub async fn mute_channel(
        &self,
        session: &SessionId,
        id: &Wid,
        on: bool,
    ) -> Result<Channel, CoreError> {
        self.may(session, Scope::Send)?;
        channel_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.mute_channel(id, on).await.map_err(page)
    }

    /// WhatsApp's channel directory: channels whose name matches `query`,
    /// `limit` at a time; `cursor` is the `next` of the page before.
    pub async fn search_channels(
        &self,
        session: &SessionId,
        query: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<ChannelPage, CoreError> {
        self.may(session, Scope::Read)?;
        let query = query.trim();
        if query.is_empty() || query.chars().count() > 100 {
            return Err(CoreError::invalid("q", "must be 1 to 100 characters"));
        }
        let limit = limit.unwrap_or(20);
        if !(1..=MAX_CHANNEL_PAGE).contains(&limit) {
            return Err(CoreError::invalid(
                "limit",
                format!("must be 1 to {MAX_CHANNEL_PAGE}"),
            ));
        }
        if cursor.is_some_and(|c| c.is_empty() || c.len() > 512) {
            return Err(CoreError::invalid("cursor", "is not a cursor a page gave"));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge
            .search_channels(query, limit, cursor)
            .await
            .map_err(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions_are_checked_before_whatsapp_is_asked() {
        assert_eq!(channel_name("  News ").unwrap(), "News");
        assert!(channel_name(" ").is_err());
        assert!(channel_name(&"x".repeat(101)).is_err());
        assert!(channel_name(&"é".repeat(100)).is_ok());
        assert_eq!(channel_description("a\nb").unwrap(), "a\nb");
        assert!(channel_description("  ").is_err());
        assert!(channel_description(&"x".repeat(2049)).is_err());
        assert!(channel_id(&Wid::parse_channel("120363012345678901@newsletter").unwrap()).is_ok());
        assert!(channel_id(&Wid::parse("15551234567").unwrap()).is_err());
    }
}
