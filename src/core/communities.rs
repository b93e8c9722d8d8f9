//! Communities: list, look at one with its members, create one (with
//! groups linked to it, and groups made for it), rename it, link and
//! unlink groups, make its admins, exit it, and deactivate it. A community
//! is WhatsApp's parent group: everyone in its linked groups is a member,
//! and its announcement group, where only admins write, holds them all.
//! WhatsApp decides who may do what; the daemon asks first only what it
//! can answer for sure (what only the creator may do or keep).

use super::error::{Refusal, refusal};
use super::{Core, CoreError};
use crate::domain::{Scope, SessionId, Wid};
use crate::session::{CallError, Community, LinkFailure, Linking};

/// A community to make.
#[derive(Default)]
pub struct NewCommunity {
    pub name: String,
    pub description: String,
    /// A JPEG, PNG, GIF or WebP.
    pub picture: Option<Vec<u8>>,
    /// Groups this account runs, linked to it.
    pub groups: Vec<Wid>,
    /// Groups made for it (this account alone in each), linked to it.
    pub new_groups: Vec<NewGroup>,
}

/// What making a community came to.
pub struct MadeCommunity {
    pub community: Community,
    /// The groups WhatsApp did not link, with its error.
    pub failed: Vec<LinkFailure>,
    /// What WhatsApp did not take once the community was under way: a new
    /// group not made, a picture not set.
    pub warnings: Vec<String>,
}

/// A group made for a new community.
pub struct NewGroup {
    pub subject: String,
    pub picture: Option<Vec<u8>>,
    /// Disappearing messages (s), one of `EPHEMERAL_SECS`.
    pub ephemeral: Option<u32>,
}

/// How many groups a community is made with at most (each a call of its
/// own to WhatsApp).
pub const MAX_NEW_GROUPS: usize = 10;

/// A change to a community; what is `None` stays as it is.
#[derive(Default)]
pub struct CommunityEdit {
    pub name: Option<String>,
    /// Empty: removes it.
    pub description: Option<String>,
    /// `Some(None)`: remove the picture; `Some(Some(bytes))`: an image.
    pub picture: Option<Option<Vec<u8>>>,
}

/// WhatsApp's limit on a community's name, as on a group's subject.
pub const MAX_COMMUNITY_NAME: usize = 100;

fn page(e: CallError) -> CoreError {
    refusal(
        e,
        &[
            (
                "COMMUNITY_NOT_FOUND",
                Refusal::NotFound("community_not_found"),
            ),
            ("ONLY_ADMINS", Refusal::Conflict("not_community_admin")),
            // Made (or unmade) an admin while no member of it.
            ("NOT_MEMBER", Refusal::Invalid("participants")),
            // Its creator stays an admin.
            ("COMMUNITY_CREATOR", Refusal::Conflict("community_creator")),
            // What only its creator may do.
            ("NOT_CREATOR", Refusal::Conflict("not_community_creator")),
        ],
    )
}

fn community_id(id: &Wid) -> Result<(), CoreError> {
    if id.is_group() {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "community",
            "must be a community id (…@g.us)",
        ))
    }
}

fn groups_only(field: &'static str, groups: &[Wid]) -> Result<(), CoreError> {
    if groups.iter().any(|g| !g.is_group()) {
        return Err(CoreError::invalid(field, "must be group ids (…@g.us)"));
    }
    Ok(())
}

impl Core {
    pub async fn communities(&self, session: &SessionId) -> Result<Vec<Community>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.communities().await.map_err(page)
    }

    /// One the account is in, with its members.
    pub async fn community(&self, session: &SessionId, id: &Wid) -> Result<Community, CoreError> {
        self.may(session, Scope::Read)?;
        community_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.community(id).await.map_err(page)
    }

    /// A new community this account runs, with its announcement group, and
    /// its `groups` (each one this account runs) and `new_groups` (made
    /// first) linked to it, then its picture. The input is checked before
    /// anything is made; once WhatsApp has made something, nothing is an
    /// error (a retry would make it twice): what it refused to link is in
    /// `failed`, and a group or picture it did not take is in `warnings`.
    pub async fn create_community(
        &self,
        session: &SessionId,
        new: &NewCommunity,
    ) -> Result<MadeCommunity, CoreError> {
        self.may(session, Scope::Send)?;
        let (name, description, groups) = (new.name.trim(), new.description.as_str(), &new.groups);
        let picture = super::people::picture_change(&new.picture.clone().map(Some))?;
        if new.new_groups.len() > MAX_NEW_GROUPS {
            return Err(CoreError::invalid(
                "new_groups",
                format!("at most {MAX_NEW_GROUPS} at once"),
            ));
        }
        let mut edits = vec![];
        for g in &new.new_groups {
            super::groups::valid_subject(&g.subject)?;
            if g.ephemeral
                .is_some_and(|s| !super::EPHEMERAL_SECS.contains(&s))
            {
                return Err(CoreError::invalid(
                    "ephemeral",
                    "must be 0 (off), 86400 (a day), 604800 (a week) or 7776000 (90 days)",
                ));
            }
            super::people::picture_change(&g.picture.clone().map(Some))?;
            edits.push(super::GroupEdit {
                picture: g.picture.clone().map(Some),
                ephemeral: g.ephemeral.filter(|s| *s != 0),
                ..Default::default()
            });
        }
        if name.is_empty() || name.chars().count() > MAX_COMMUNITY_NAME {
            return Err(CoreError::invalid(
                "name",
                format!("must be 1 to {MAX_COMMUNITY_NAME} characters"),
            ));
        }
        if description.chars().count() > super::MAX_DESCRIPTION {
            return Err(CoreError::invalid(
                "description",
                format!("must be at most {} characters", super::MAX_DESCRIPTION),
            ));
        }
        groups_only("groups", groups)?;
        let bridge = self.manager.bridge(session).await?;
        let mut groups = groups.clone();
        let mut warnings = vec![];
        for (g, edit) in new.new_groups.iter().zip(&edits) {
            let gid = match self.create_group(session, &g.subject, &[]).await {
                Ok(made) => Wid::parse(&made.group.id).map_err(CoreError::Internal)?,
                // Not made: the community is made with the rest.
                Err(e) => {
                    warnings.push(format!("group '{}' was not made: {e}", g.subject));
                    continue;
                }
            };
            if (edit.picture.is_some() || edit.ephemeral.is_some())
                && let Err(e) = self.edit_group(session, &gid, edit).await
            {
                warnings.push(format!(
                    "group {gid} was made without its picture or disappearing messages: {e}"
                ));
            }
            groups.push(gid);
        }
        let made = bridge
            .create_community(name, description, &groups)
            .await
            .map_err(page)?;
        let id = Wid::parse(&made.id).map_err(CoreError::Internal)?;
        tracing::info!(session = %session, community = %id, "community created");
        // WhatsApp Web may hold the new community's metadata a moment
        // after it answers: looked for a while, then answered as made
        // (never an error: a retry would make a second one).
        let mut tries = 0;
        let c = loop {
            match bridge.community(&id).await {
                Ok(c) => break c,
                Err(CallError::Page(m)) if m.starts_with("COMMUNITY_NOT_FOUND") && tries < 10 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::debug!(session = %session, community = %id, "the new community not read back: {e}");
                    break Community {
                        id: made.id.clone(),
                        name: Some(name.to_string()),
                        description: (!description.is_empty()).then(|| description.to_string()),
                        owner: self
                            .manager
                            .get(session)
                            .await
                            .ok()
                            .and_then(|s| s.record.me)
                            .map(|m| m.id),
                        created: Some(crate::domain::now_ms() / 1000),
                        announcement_group: None,
                        groups: vec![],
                        participants: None,
                    };
                }
            }
        };
        if let Some(Some(p)) = picture
            && let Err(e) = bridge.set_group_picture(&id, Some(&p)).await
        {
            warnings.push(format!(
                "the community was made without its picture: {}",
                page(e)
            ));
        }
        Ok(MadeCommunity {
            community: c,
            failed: made.linking.failed,
            warnings,
        })
    }

    /// Links groups to a community (`link`), or unlinks them: community
    /// admins only, and a group is linked by one of its own admins. An
    /// unlinked group stays, on its own; its members no other linked group
    /// holds leave the community.
    pub async fn link_groups(
        &self,
        session: &SessionId,
        id: &Wid,
        groups: &[Wid],
        link: bool,
    ) -> Result<Linking, CoreError> {
        self.may(session, Scope::Send)?;
        community_id(id)?;
        if groups.is_empty() {
            return Err(CoreError::invalid("groups", "must name a group"));
        }
        groups_only("groups", groups)?;
        let bridge = self.manager.bridge(session).await?;
        let done = bridge.link_groups(id, groups, link).await.map_err(page)?;
        tracing::info!(session = %session, community = %id, linked = link, groups = done.done.len(), "community groups changed");
        Ok(done)
    }

    /// Makes members the community's admins, or members again (its admins
    /// only); answers the community after.
    pub async fn community_admins(
        &self,
        session: &SessionId,
        id: &Wid,
        promote: &[Wid],
        demote: &[Wid],
    ) -> Result<Community, CoreError> {
        self.may(session, Scope::Send)?;
        community_id(id)?;
        if promote.is_empty() && demote.is_empty() {
            return Err(CoreError::invalid(
                "promote",
                "or 'demote' must name someone",
            ));
        }
        if promote.iter().chain(demote).any(|p| p.phone().is_none()) {
            return Err(CoreError::invalid(
                "promote",
                "and 'demote' must be people (phone numbers), not groups",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        // Its creator stays an admin: asked first, where the owner is named
        // by phone, as WhatsApp's refusal does not say so clearly.
        let c = bridge.community(id).await.map_err(page)?;
        if let Some(owner) = c.owner.as_deref().filter(|o| o.ends_with("@c.us"))
            && demote.iter().any(|d| d.as_str() == owner)
        {
            return Err(CoreError::Conflict {
                code: "community_creator",
                message: format!("{owner} created community {id} and stays its admin"),
            });
        }
        if !promote.is_empty() {
            bridge
                .set_community_admins(id, promote, true)
                .await
                .map_err(page)?;
        }
        if !demote.is_empty() {
            bridge
                .set_community_admins(id, demote, false)
                .await
                .map_err(page)?;
        }
        bridge.community(id).await.map_err(page)
    }

    /// Renames a community, changes its description or picture (its
    /// admins only); answers it after.
    pub async fn edit_community(
        &self,
        session: &SessionId,
        id: &Wid,
        e: &CommunityEdit,
    ) -> Result<Community, CoreError> {
        self.may(session, Scope::Send)?;
        community_id(id)?;
        let name = e.name.as_deref().map(str::trim);
        if name.is_some_and(|n| n.is_empty() || n.chars().count() > MAX_COMMUNITY_NAME) {
            return Err(CoreError::invalid(
                "name",
                format!("must be 1 to {MAX_COMMUNITY_NAME} characters"),
            ));
        }
        if e.description
            .as_deref()
            .is_some_and(|d| d.chars().count() > super::MAX_DESCRIPTION)
        {
            return Err(CoreError::invalid(
                "description",
                format!("must be at most {} characters", super::MAX_DESCRIPTION),
            ));
        }
        let picture = super::people::picture_change(&e.picture)?;
        if name.is_none() && e.description.is_none() && picture.is_none() {
            return Err(CoreError::invalid(
                "name",
                "or 'description' or 'picture' is required",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.community(id).await.map_err(page)?;
        // The picture first: WhatsApp may still refuse its image, and then
        // nothing else has changed.
        if let Some(p) = &picture {
            bridge
                .set_group_picture(id, p.as_deref())
                .await
                .map_err(page)?;
        }
        if let Some(n) = name {
            bridge.set_subject(id, n).await.map_err(page)?;
        }
        if let Some(d) = &e.description {
            bridge.set_description(id, d).await.map_err(page)?;
        }
        // As changed: WhatsApp Web's copy may catch up a moment later.
        let mut c = bridge.community(id).await.map_err(page)?;
        if let Some(n) = name {
            c.name = Some(n.to_string());
        }
        if let Some(d) = &e.description {
            c.description = (!d.is_empty()).then(|| d.clone());
        }
        Ok(c)
    }

    /// Exits a community: its groups and its announcement group, as
    /// WhatsApp's "Exit community" does.
    pub async fn leave_community(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        community_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.leave_community(id).await.map_err(page)?;
        tracing::info!(session = %session, community = %id, "community left");
        Ok(())
    }

    /// Ends a community, as only its creator may: every group is unlinked
    /// and stays, and the announcement group closes.
    pub async fn deactivate_community(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        community_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        let c = bridge.community(id).await.map_err(page)?;
        // Asked first where it can be told for sure: an owner named by
        // phone (one named by privacy id is WhatsApp's to judge).
        let me = self.manager.get(session).await?.record.me.map(|m| m.id);
        let by_phone = c.owner.as_deref().is_some_and(|o| o.ends_with("@c.us"));
        if by_phone && me.is_some() && c.owner != me {
            return Err(CoreError::Conflict {
                code: "not_community_creator",
                message: format!("only the creator of community {id} can deactivate it"),
            });
        }
        bridge.deactivate_community(id).await.map_err(page)?;
        tracing::info!(session = %session, community = %id, "community deactivated");
        Ok(())
    }
}
