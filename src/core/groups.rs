//! Groups: list, look at one, create, add and remove people, the invite
//! link, join by invite, change the subject, description and settings,
//! leave. WhatsApp decides who may do what (admins add and remove, and
//! change the settings); its refusal comes back as a clear error.

use super::{Core, CoreError};
use crate::domain::{GroupSetting, Scope, SessionId, Wid};
use crate::session::{AddOutcome, CallError, CallFailure, GroupInfo, JoinRequest};

/// Invite links look like this; the code is the last path segment.
pub const INVITE_PREFIX: &str = "https://chat.whatsapp.com/";

/// WhatsApp's limit on a group's description.
pub const MAX_DESCRIPTION: usize = 2048;

/// A change to a group's info; what is `None` stays as it is.
#[derive(Default)]
pub struct GroupEdit {
    pub subject: Option<String>,
    /// Empty: removes the description.
    pub description: Option<String>,
    pub announce: Option<bool>,
    pub restrict: Option<bool>,
    /// `Some(None)`: remove the picture; `Some(Some(bytes))`: an image.
    pub picture: Option<Option<Vec<u8>>>,
    /// Disappearing messages: how long one lasts (s), one of
    /// [`EPHEMERAL_SECS`]; 0 turns them off.
    pub ephemeral: Option<u32>,
}

/// How long disappearing messages may last, as WhatsApp offers: off, a
/// day, a week, 90 days.
pub const EPHEMERAL_SECS: [u32; 4] = [0, 86_400, 604_800, 7_776_000];

/// A group as it is after people were put in it, and what WhatsApp said
/// of each one (it adds whom it may and tells why not of the rest).
#[derive(Debug)]
pub struct GroupAfter {
    pub group: GroupInfo,
    pub adds: Vec<AddOutcome>,
}

impl GroupAfter {
    /// Those asked for who are not in it now: one already in (409) is;
    /// of one WhatsApp Web told no code, the group after tells.
    pub fn not_added(&self) -> impl Iterator<Item = &AddOutcome> {
        self.adds.iter().filter(|o| match o.code {
            Some(c) => c != 200 && c != 409,
            None => !self.group.participants.iter().any(|p| p.id == o.id),
        })
    }
}

/// A change to who is in a group and who runs it.
#[derive(Default)]
pub struct Membership {
    pub add: Vec<Wid>,
    pub remove: Vec<Wid>,
    /// Made admins.
    pub promote: Vec<Wid>,
    /// Made members again.
    pub demote: Vec<Wid>,
}

/// What became of requests to join.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct JoinAnswers {
    pub approved: Vec<String>,
    pub rejected: Vec<String>,
    /// WhatsApp refused these (e.g. no such request).
    pub failed: Vec<JoinFailure>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JoinFailure {
    pub id: String,
    /// WhatsApp's error for it.
    pub error: String,
}

fn group_id(id: &Wid) -> Result<(), CoreError> {
    if id.is_group() {
        Ok(())
    } else {
        Err(CoreError::invalid("group", "must be a group id (…@g.us)"))
    }
}

/// A subject as WhatsApp takes it: trimmed, 1 to 100 characters.
pub(super) fn valid_subject(subject: &str) -> Result<&str, CoreError> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > 100 {
        return Err(CoreError::invalid("subject", "must be 1 to 100 characters"));
    }
    Ok(subject)
}

/// The code of an invite code or a chat.whatsapp.com link.
fn invite_code(invite: &str) -> Result<&str, CoreError> {
    let code = invite
        .trim()
        .trim_start_matches(INVITE_PREFIX)
        .trim_end_matches('/');
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CoreError::invalid(
            "invite",
            "must be an invite code or a chat.whatsapp.com link",
        ));
    }
    Ok(code)
}

fn page(e: CallError) -> CoreError {
    match e {
        // bridge.js names what wa-js refuses to a member who is no admin.
        CallError::Page(m) if m.starts_with("ONLY_ADMINS: ") => CoreError::Conflict {
            code: "not_group_admin",
            message: m.trim_start_matches("ONLY_ADMINS: ").to_string(),
        },
        // A community's announcement group: its members are the community's.
        CallError::Page(m) if m.starts_with("COMMUNITY_GROUP: ") => CoreError::Conflict {
            code: "community_group",
            message: m.trim_start_matches("COMMUNITY_GROUP: ").to_string(),
        },
        CallError::Page(m) if m.starts_with("GROUP_NOT_FOUND") => CoreError::NotFound {
            code: "group_not_found",
            message: "this account is in no such group".into(),
        },
        // The creator runs the group for as long as it is theirs.
        CallError::Page(m) if m.contains("creator") => CoreError::Conflict {
            code: "group_creator",
            message: m,
        },
        // WhatsApp lets only admins change who is in a group.
        CallError::Page(m) if m.contains("admin") => CoreError::Conflict {
            code: "not_group_admin",
            message: m,
        },
        // A participant WhatsApp does not know: the caller's mistake.
        CallError::Page(m) if m.ends_with(" is not on WhatsApp") => {
            CoreError::NotOnWhatsApp(m.trim_end_matches(" is not on WhatsApp").to_string())
        }
        // An invite that was reset, or never was.
        CallError::Page(m) if m.contains("invite") && m.contains("not valid") => {
            CoreError::NotFound {
                code: "invite_not_found",
                message: "the invite link is not valid (reset, or never was)".into(),
            }
        }
        e => CoreError::from(CallFailure::from(e)),
    }
}

impl Core {
    pub async fn groups(&self, session: &SessionId) -> Result<Vec<GroupInfo>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.groups().await.map_err(page)
    }

    pub async fn group(&self, session: &SessionId, id: &Wid) -> Result<GroupInfo, CoreError> {
        self.may(session, Scope::Read)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.group(id).await.map_err(page)
    }

    /// Whether this account is an admin of a group, as WhatsApp Web tells
    /// (whether the group lists its members by number or by privacy id).
    pub async fn i_am_admin(&self, session: &SessionId, id: &Wid) -> Result<bool, CoreError> {
        self.may(session, Scope::Read)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.i_am_admin(id).await.map_err(page)
    }

    pub async fn create_group(
        &self,
        session: &SessionId,
        subject: &str,
        participants: &[Wid],
    ) -> Result<GroupAfter, CoreError> {
        self.may(session, Scope::Send)?;
        let subject = valid_subject(subject)?;
        if participants.iter().any(|p| p.phone().is_none()) {
            return Err(CoreError::invalid(
                "participants",
                "must be people (phone numbers), not groups",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        let made = bridge
            .create_group(subject, participants)
            .await
            .map_err(page)?;
        let gid = Wid::parse(&made.id).map_err(CoreError::Internal)?;
        tracing::info!(session = %session, group = %gid, "group created");
        let group = bridge.group(&gid).await.map_err(page)?;
        Ok(GroupAfter {
            group,
            adds: made.added,
        })
    }

    /// Adds participants, makes admins and unmakes them, and removes
    /// participants, in that order; answers the group as it is after, and
    /// what WhatsApp said of each one added.
    pub async fn group_participants(
        &self,
        session: &SessionId,
        id: &Wid,
        m: &Membership,
    ) -> Result<GroupAfter, CoreError> {
        self.may(session, Scope::Send)?;
        group_id(id)?;
        if m.add.is_empty() && m.remove.is_empty() && m.promote.is_empty() && m.demote.is_empty() {
            return Err(CoreError::invalid(
                "add",
                "or 'remove', 'promote' or 'demote' must name someone",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        let mut adds = vec![];
        if !m.add.is_empty() {
            adds = bridge.add_participants(id, &m.add).await.map_err(page)?;
        }
        if !m.promote.is_empty() {
            bridge
                .set_admins(id, &m.promote, true)
                .await
                .map_err(page)?;
        }
        if !m.demote.is_empty() {
            bridge
                .set_admins(id, &m.demote, false)
                .await
                .map_err(page)?;
        }
        if !m.remove.is_empty() {
            bridge
                .remove_participants(id, &m.remove)
                .await
                .map_err(page)?;
        }
        let group = bridge.group(id).await.map_err(page)?;
        Ok(GroupAfter { group, adds })
    }

    /// The invite code (the link is `INVITE_PREFIX` + code).
    pub async fn group_invite(&self, session: &SessionId, id: &Wid) -> Result<String, CoreError> {
        self.may(session, Scope::Read)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.invite_code(id).await.map_err(page)
    }

    /// A new invite code (admins only): the old link stops working.
    pub async fn revoke_group_invite(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<String, CoreError> {
        self.may(session, Scope::Send)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        let code = bridge.revoke_invite(id).await.map_err(page)?;
        tracing::info!(session = %session, group = %id, "group invite reset");
        Ok(code)
    }

    /// Who asks to join a group this account runs, where its admins
    /// approve who joins (admins only).
    pub async fn join_requests(
        &self,
        session: &SessionId,
        id: &Wid,
    ) -> Result<Vec<JoinRequest>, CoreError> {
        self.may(session, Scope::Read)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.join_requests(id).await.map_err(page)
    }

    /// Approves and rejects requests to join (admins only): an approved
    /// one joins as if added. What WhatsApp did with each is answered; one
    /// it refused (no such request) is in `failed`.
    pub async fn answer_join_requests(
        &self,
        session: &SessionId,
        id: &Wid,
        approve: &[Wid],
        reject: &[Wid],
    ) -> Result<JoinAnswers, CoreError> {
        self.may(session, Scope::Send)?;
        group_id(id)?;
        if approve.is_empty() && reject.is_empty() {
            return Err(CoreError::invalid(
                "approve",
                "or 'reject' must name someone who asked to join",
            ));
        }
        if let Some(both) = approve.iter().find(|w| reject.contains(w)) {
            return Err(CoreError::invalid(
                "reject",
                format!("names {both}, whom 'approve' names too"),
            ));
        }
        for (field, ids) in [("approve", approve), ("reject", reject)] {
            if let Some(g) = ids.iter().find(|w| w.is_group()) {
                return Err(CoreError::invalid(field, format!("names a group, {g}")));
            }
        }
        let once = |ids: &[Wid]| {
            let mut v: Vec<Wid> = vec![];
            for w in ids {
                if !v.contains(w) {
                    v.push(w.clone());
                }
            }
            v
        };
        let (approve, reject) = (once(approve), once(reject));
        let bridge = self.manager.bridge(session).await?;
        let mut out = JoinAnswers::default();
        for (ids, yes) in [(&approve, true), (&reject, false)] {
            if ids.is_empty() {
                continue;
            }
            let answers = match bridge.answer_join_requests(id, ids, yes).await {
                Ok(a) => a,
                // The approvals went through: what could not be done is
                // said, not a failure of the whole.
                Err(e) if yes || out.approved.is_empty() => return Err(page(e)),
                Err(e) => {
                    let why = page(e).to_string();
                    out.failed.extend(ids.iter().map(|w| JoinFailure {
                        id: w.to_string(),
                        error: why.clone(),
                    }));
                    continue;
                }
            };
            for w in ids {
                // WhatsApp may name them by privacy id: matched by user.
                let user = |s: &str| s.split('@').next().unwrap_or("").to_string();
                let answered = answers
                    .iter()
                    .find(|a| a.id == w.as_str() || user(&a.id) == user(w.as_str()));
                match answered {
                    Some(a) => match &a.error {
                        Some(error) => out.failed.push(JoinFailure {
                            id: a.id.clone(),
                            error: error.clone(),
                        }),
                        None if yes => out.approved.push(a.id.clone()),
                        None => out.rejected.push(a.id.clone()),
                    },
                    None => out.failed.push(JoinFailure {
                        id: w.to_string(),
                        error: "WhatsApp did not answer for it".into(),
                    }),
                }
            }
        }
        tracing::info!(session = %session, group = %id, approved = out.approved.len(), rejected = out.rejected.len(), "requests to join answered");
        Ok(out)
    }

    /// The group an invite code or link opens, as it shows before joining.
    pub async fn invite_info(
        &self,
        session: &SessionId,
        invite: &str,
    ) -> Result<GroupInfo, CoreError> {
        self.may(session, Scope::Read)?;
        let code = invite_code(invite)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.invite_info(code).await.map_err(page)
    }

    /// Joins by an invite code or link; answers the group's id, and
    /// whether it is only a request, where the group's admins approve who
    /// joins.
    pub async fn join_group(
        &self,
        session: &SessionId,
        invite: &str,
    ) -> Result<(Wid, bool), CoreError> {
        self.may(session, Scope::Send)?;
        let code = invite_code(invite)?;
        let bridge = self.manager.bridge(session).await?;
        let joined = bridge.join_group(code).await.map_err(page)?;
        let gid = Wid::parse(&joined.id).map_err(CoreError::Internal)?;
        Ok((gid, joined.pending))
    }

    /// Changes the picture, the subject, the description and the settings,
    /// in that order; answers the group as it is after. What only admins may do is
    /// checked against the group first, so a refusal changes nothing.
    pub async fn edit_group(
        &self,
        session: &SessionId,
        id: &Wid,
        e: &GroupEdit,
    ) -> Result<GroupInfo, CoreError> {
        self.may(session, Scope::Send)?;
        group_id(id)?;
        let subject = e.subject.as_deref().map(valid_subject).transpose()?;
        // Kept as written: line breaks are part of a description.
        let description = e.description.as_deref();
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
            return Err(CoreError::invalid(
                "description",
                "must be at most 2048 characters",
            ));
        }
        let picture = super::people::picture_change(&e.picture)?;
        if e.ephemeral.is_some_and(|s| !EPHEMERAL_SECS.contains(&s)) {
            return Err(CoreError::invalid(
                "ephemeral",
                "must be 0 (off), 86400 (a day), 604800 (a week) or 7776000 (90 days)",
            ));
        }
        // Disappearing messages are a setting: wa-js lets only admins set
        // a group property other than `announcement`.
        let settings = e.announce.is_some() || e.restrict.is_some() || e.ephemeral.is_some();
        if subject.is_none() && description.is_none() && picture.is_none() && !settings {
            return Err(CoreError::invalid(
                "subject",
                "or 'description', 'picture', 'ephemeral', 'announce' or 'restrict' is required",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        let before = bridge.group(id).await.map_err(page)?;
        let admin = bridge.i_am_admin(id).await.map_err(page)?;
        let info = subject.is_some() || description.is_some() || picture.is_some();
        if !admin && (settings || (info && before.restrict)) {
            return Err(CoreError::Conflict {
                code: "not_group_admin",
                message: if settings {
                    "only group admins can change the group's settings".into()
                } else {
                    "only group admins can change this group's subject and description".into()
                },
            });
        }
        // The picture first: WhatsApp may still refuse its image, and then
        // nothing else has changed.
        if let Some(p) = &picture {
            bridge
                .set_group_picture(id, p.as_deref())
                .await
                .map_err(page)?;
        }
        if let Some(s) = subject {
            bridge.set_subject(id, s).await.map_err(page)?;
        }
        if let Some(d) = description {
            bridge.set_description(id, d).await.map_err(page)?;
        }
        if let Some(secs) = e.ephemeral {
            bridge.set_group_ephemeral(id, secs).await.map_err(page)?;
        }
        for (setting, on) in [
            (GroupSetting::Announce, e.announce),
            (GroupSetting::Restrict, e.restrict),
        ] {
            if let Some(on) = on {
                bridge
                    .set_group_setting(id, setting, on)
                    .await
                    .map_err(page)?;
            }
        }
        // As changed: WhatsApp Web's copy of the metadata may catch up
        // only with the notice that follows.
        let mut g = bridge.group(id).await.map_err(page)?;
        if let Some(s) = subject {
            g.subject = Some(s.to_string());
        }
        if let Some(d) = description {
            g.description = (!d.is_empty()).then(|| d.to_string());
        }
        g.announce = e.announce.unwrap_or(g.announce);
        g.restrict = e.restrict.unwrap_or(g.restrict);
        g.ephemeral = e.ephemeral.unwrap_or(g.ephemeral);
        Ok(g)
    }

    pub async fn leave_group(&self, session: &SessionId, id: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        group_id(id)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.leave_group(id).await.map_err(page)
    }
}
