//! Groups in the simulated WhatsApp: subject, description, settings, owner,
//! admins, participants, an invite code; a message to a group reaches every
//! member account, with its author; joins, leaves and changes to the
//! group's info reach every member's devices as WhatsApp announces them.
//! As in WhatsApp, `announce` lets only admins send, and `restrict` lets
//! only admins change the subject and description; disappearing messages
//! are a setting, an admin's to change.

use super::world::{SbMessage, World, random_hex};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Clone, Serialize, Deserialize)]
pub struct Group {
    /// `1203630…@g.us`
    pub id: String,
    pub subject: String,
    pub owner: String,
    pub created: i64,
    /// Phones, in the order they joined.
    pub participants: Vec<String>,
    pub admins: Vec<String>,
    pub invite: String,
    #[serde(default)]
    pub desc: String,
    /// Only admins may send messages.
    #[serde(default)]
    pub announce: bool,
    /// Only admins may change the subject and description.
    #[serde(default)]
    pub restrict: bool,
    /// Its picture (base64), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// Admins approve who joins by the link (WhatsApp's membership
    /// approval mode): a join is a request until then.
    #[serde(default)]
    pub approval: bool,
    /// Requests to join, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<JoinRequest>,
    /// Disappearing messages: how long a message lasts (s; 0: off).
    #[serde(default)]
    pub ephemeral: u32,
    /// Private invites WhatsApp made for those it would not add (their
    /// privacy settings): phone -> (code, expiry, unix s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add_invites: BTreeMap<String, (String, i64)>,
    /// What it is in a community, if anything.
    #[serde(default)]
    pub kind: Kind,
    /// The community a linked group (or its announcement group) is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A community's groups: its announcement group first, then those
    /// linked to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subgroups: Vec<String>,
}

/// What a group is to a community, as WhatsApp Web's `groupType` tells:
/// a community is a parent group with no chat of its own, whose members
/// are everyone in its linked groups; its announcement group (where only
/// admins write) holds them all.
#[derive(Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Group,
    Community,
    Announcement,
}

/// How long disappearing messages may last, as WhatsApp offers: off, a
/// day, a week, 90 days.
pub const EPHEMERAL_SECS: [u32; 4] = [0, 86_400, 604_800, 7_776_000];

/// The phones a device's call names under `k` (ids or bare numbers).
pub(super) fn phones_in(v: &Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|p| p.trim_end_matches("@c.us").to_string())
        .collect()
}

/// A new group id, as WhatsApp makes them.
pub(super) fn new_group_id() -> String {
    format!(
        "120363{:012}@g.us",
        rand::random::<u64>() % 1_000_000_000_000
    )
}

/// How long the invite WhatsApp gives for someone it would not add lasts
/// (s): three days, as its `add_request` expirations run.
const ADD_INVITE_SECS: i64 = 3 * 86_400;

/// What WhatsApp answers for one person an add (or a new group) names, as
/// its `participant` node: a code (200 added, 403 their privacy settings,
/// 404 not on WhatsApp, 409 already in) and, for a 403, the code and
/// expiry of an invite the admin may send them instead.
pub struct Added {
    pub phone: String,
    pub code: u16,
    pub invite: Option<(String, i64)>,
}

/// The invites WhatsApp made among these answers, by phone.
fn invites_of(outcomes: &[Added]) -> BTreeMap<String, (String, i64)> {
    outcomes
        .iter()
        .filter_map(|o| o.invite.clone().map(|i| (o.phone.clone(), i)))
        .collect()
}

impl Added {
    /// As the device hears it.
    pub fn wire(&self) -> Value {
        json!({"wid": format!("{}@c.us", self.phone), "code": self.code,
               "invite_code": self.invite.as_ref().map(|i| &i.0), "invite_code_exp": self.invite.as_ref().map(|i| i.1)})
    }
}

/// Someone asked to join a group that wants its admins' approval.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub phone: String,
    /// `InviteLink`, as WhatsApp names how it was asked.
    pub method: String,
    /// unix s
    pub at: i64,
}

/// What a join by link came to.
pub enum Joined {
    /// A participant now (or already).
    Member(String),
    /// A request, until an admin answers it.
    Requested(String),
}

/// A group setting WhatsApp names (wa-js's `GroupProperty`).
#[derive(Clone, Copy, PartialEq)]
pub enum Setting {
    Announce,
    Restrict,
}

impl Setting {
    pub fn parse(s: &str) -> Option<Setting> {
        match s {
            "announcement" | "announce" => Some(Setting::Announce),
            "restrict" => Some(Setting::Restrict),
            _ => None,
        }
    }

    /// The notice's subtype, as WhatsApp Web names it.
    fn subtype(self) -> &'static str {
        match self {
            Setting::Announce => "announce",
            Setting::Restrict => "restrict",
        }
    }
}

impl Group {
    pub fn view(&self) -> Value {
        json!({
            "id": self.id, "subject": self.subject, "owner": self.owner, "creation": self.created,
            "invite": self.invite, "desc": self.desc, "announce": self.announce, "restrict": self.restrict,
            "has_picture": self.picture.is_some(), "approval": self.approval, "ephemeral": self.ephemeral,
            "isParentGroup": self.kind == Kind::Community, "defaultSubgroup": self.kind == Kind::Announcement,
            "parentGroup": self.parent, "subgroups": self.subgroups,
            "participants": self.participants.iter().map(|p| json!({
                "id": format!("{p}@c.us"), "isAdmin": self.admins.contains(p), "isSuperAdmin": *p == self.owner,
            })).collect::<Vec<_>>(),
        })
    }
}

impl World {
    pub fn group(&self, gid: &str) -> Option<&Group> {
        self.p.groups.get(gid)
    }

    /// Every group `phone` is in.
    pub fn groups_of(&self, phone: &str) -> Vec<Value> {
        self.p
            .groups
            .values()
            .filter(|g| g.participants.iter().any(|p| p == phone))
            .map(Group::view)
            .collect()
    }

    /// `owner` creates a group with `others`; every member account hears.
    pub fn create_group(
        &mut self,
        owner: &str,
        subject: &str,
        others: &[String],
    ) -> Result<(Value, Vec<Added>), String> {
        if subject.trim().is_empty() {
            return Err("a group needs a subject".into());
        }
        let mut participants = vec![owner.to_string()];
        let mut outcomes = vec![];
        for p in others {
            if self.p.unregistered.contains(p) {
                return Err(format!("{p} is not on WhatsApp"));
            }
            if participants.contains(p) || outcomes.iter().any(|o: &Added| o.phone == *p) {
                continue;
            }
            let o = self.add_outcome(None, owner, p);
            if o.code == 200 {
                participants.push(p.clone());
            }
            outcomes.push(o);
        }
        let g = Group {
            id: new_group_id(),
            subject: subject.to_string(),
            owner: owner.to_string(),
            created: self.now_s(),
            participants: participants.clone(),
            admins: vec![owner.to_string()],
            invite: random_hex(22),
            desc: String::new(),
            announce: false,
            restrict: false,
            picture: None,
            approval: false,
            requests: vec![],
            ephemeral: 0,
            add_invites: invites_of(&outcomes),
            kind: Kind::Group,
            parent: None,
            subgroups: vec![],
        };
        let view = g.view();
        self.p.groups.insert(g.id.clone(), g);
        self.dirty = true;
        self.announce(
            view["id"].as_str().unwrap_or_default(),
            "create",
            &participants,
            owner,
        );
        Ok((view, outcomes))
    }

    /// Whether WhatsApp adds `phone` to `g` (none: a group being made) for
    /// `by`: not one already in, nor anyone not on WhatsApp, nor someone
    /// whose privacy settings keep `by` out, who gets an invite instead.
    fn add_outcome(&self, g: Option<&Group>, by: &str, phone: &str) -> Added {
        let answer = |code| Added {
            phone: phone.to_string(),
            code,
            invite: None,
        };
        if g.is_some_and(|g| g.participants.iter().any(|p| p == phone)) {
            return answer(409);
        }
        if self.p.unregistered.contains(phone) {
            return answer(404);
        }
        let in_their_book = || {
            self.p
                .address_books
                .get(phone)
                .is_some_and(|b| b.contains_key(by))
        };
        let kept_out = match self.p.profiles.get(phone).map(|p| p.group_add) {
            Some(super::people::GroupAdd::Nobody) => true,
            Some(super::people::GroupAdd::Contacts) => !in_their_book(),
            _ => false,
        };
        if kept_out {
            return Added {
                invite: Some((random_hex(16), self.now_s() + ADD_INVITE_SECS)),
                ..answer(403)
            };
        }
        answer(200)
    }

    /// Adds or removes participants (only admins may); `by` is who did it.
    /// Answers the group after, and what WhatsApp said of each one added.
    pub fn change_participants(
        &mut self,
        gid: &str,
        by: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(Value, Vec<Added>), String> {
        let g = self.p.groups.get(gid).ok_or("no such group")?;
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can add or remove participants".into());
        }
        if g.kind != Kind::Group {
            return Err("people join a community through its groups".into());
        }
        let mut outcomes: Vec<Added> = vec![];
        for p in add {
            if !outcomes.iter().any(|o| o.phone == *p) {
                outcomes.push(self.add_outcome(Some(g), by, p));
            }
        }
        let added: Vec<String> = outcomes
            .iter()
            .filter(|o| o.code == 200)
            .map(|o| o.phone.clone())
            .collect();
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        g.add_invites.extend(invites_of(&outcomes));
        let removed: Vec<String> = remove
            .iter()
            .filter(|p| g.participants.contains(p) && **p != g.owner)
            .cloned()
            .collect();
        g.participants.extend(added.iter().cloned());
        g.participants.retain(|p| !removed.contains(p));
        g.admins.retain(|p| !removed.contains(p));
        self.dirty = true;
        if !added.is_empty() {
            self.announce(gid, "add", &added, by);
            self.bring_into_community(gid, &added, by);
        }
        if !removed.is_empty() {
            // The removed hear it too: their device learns it left.
            self.announce_to(gid, "remove", &removed, by, &removed);
            self.announce(gid, "remove", &removed, by);
            self.keep_an_admin(gid, by);
        }
        let view = self.p.groups.get(gid).map(Group::view).unwrap_or_default();
        Ok((view, outcomes))
    }

    /// `phone` joins by the private invite made for them: the code must be
    /// theirs and not expired; it is good once.
    pub fn accept_invite(&mut self, gid: &str, phone: &str, code: &str) -> Result<Value, String> {
        let now = self.now_s();
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        match g.add_invites.get(phone) {
            Some((c, exp)) if c == code && *exp > now => {}
            Some((c, _)) if c == code => return Err("the invite has expired".into()),
            _ => return Err("no such invite for this phone".into()),
        }
        g.add_invites.remove(phone);
        if !g.participants.iter().any(|p| p == phone) {
            g.participants.push(phone.to_string());
        }
        self.dirty = true;
        let who = vec![phone.to_string()];
        self.announce(gid, "join", &who, phone);
        Ok(self.p.groups.get(gid).map(Group::view).unwrap_or_default())
    }

    /// `phone` leaves (the owner too: the group stays, and keeps an admin).
    pub fn leave_group(&mut self, gid: &str, phone: &str) -> Result<(), String> {
        match self.p.groups.get(gid).map(|g| g.kind) {
            Some(Kind::Community) => return self.exit_community(gid, phone),
            Some(Kind::Announcement) => {
                return Err("to leave a community's announcements, exit the community".into());
            }
            _ => {}
        }
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.participants.iter().any(|p| p == phone) {
            return Err("not a participant".into());
        }
        g.participants.retain(|p| p != phone);
        g.admins.retain(|p| p != phone);
        self.dirty = true;
        let who = vec![phone.to_string()];
        self.announce_to(gid, "leaver", &who, phone, &who);
        self.announce(gid, "leaver", &who, phone);
        self.keep_an_admin(gid, phone);
        Ok(())
    }

    /// Makes participants admins, or members again (only admins may; the
    /// group's creator stays one); `by` is who did it.
    pub fn change_admins(
        &mut self,
        gid: &str,
        by: &str,
        promote: &[String],
        demote: &[String],
    ) -> Result<Value, String> {
        if self
            .p
            .groups
            .get(gid)
            .is_some_and(|g| g.kind != Kind::Group)
        {
            return Err("a community's admins are made as the community's".into());
        }
        self.change_admins_of(gid, by, promote, demote)
    }

    /// As `change_admins`, for any kind of group (a community's admins
    /// are made in it and in its announcement group alike).
    pub(super) fn change_admins_of(
        &mut self,
        gid: &str,
        by: &str,
        promote: &[String],
        demote: &[String],
    ) -> Result<Value, String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can make or unmake admins".into());
        }
        if let Some(p) = promote
            .iter()
            .chain(demote)
            .find(|p| !g.participants.contains(p))
        {
            return Err(format!("{p} is not a participant of this group"));
        }
        if demote.contains(&g.owner) {
            return Err("the group's creator cannot be demoted".into());
        }
        let mut made: Vec<String> = Vec::new();
        for p in promote {
            if !g.admins.contains(p) && !made.contains(p) {
                made.push(p.clone());
            }
        }
        let unmade: Vec<String> = demote
            .iter()
            .filter(|p| g.admins.contains(p))
            .cloned()
            .collect();
        g.admins.extend(made.iter().cloned());
        g.admins.retain(|p| !unmade.contains(p));
        self.dirty = true;
        if !made.is_empty() {
            self.announce(gid, "promote", &made, by);
        }
        if !unmade.is_empty() {
            self.announce(gid, "demote", &unmade, by);
            self.keep_an_admin(gid, by);
        }
        Ok(self.p.groups.get(gid).map(Group::view).unwrap_or_default())
    }

    /// WhatsApp never leaves a group without an admin: when the last one
    /// goes, the member who has been in it longest is made one.
    pub(super) fn keep_an_admin(&mut self, gid: &str, by: &str) {
        let Some(g) = self.p.groups.get_mut(gid) else {
            return;
        };
        if !g.admins.is_empty() {
            return;
        }
        let Some(first) = g.participants.first().cloned() else {
            return;
        };
        g.admins.push(first.clone());
        self.announce(gid, "promote", &[first], by);
    }

    pub fn invite_code(&self, gid: &str, by: &str) -> Result<String, String> {
        let g = self.p.groups.get(gid).ok_or("no such group")?;
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can see the invite link".into());
        }
        Ok(g.invite.clone())
    }

    /// A new invite code (admins only): the old link stops working.
    pub fn revoke_invite(&mut self, gid: &str, by: &str) -> Result<String, String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can reset the invite link".into());
        }
        g.invite = random_hex(22);
        self.dirty = true;
        Ok(g.invite.clone())
    }

    /// The group an invite code (or link) opens, as it shows before joining.
    pub fn invite_info(&self, code: &str) -> Result<Value, String> {
        let code = code.rsplit('/').next().unwrap_or(code);
        self.p
            .groups
            .values()
            .find(|g| g.invite == code && g.kind == Kind::Group)
            .map(Group::view)
            .ok_or_else(|| "the invite link is not valid".into())
    }

    /// `phone` joins by an invite code (or link): at once, or, where the
    /// admins approve who joins, as a request the admins hear of.
    pub fn join_group(&mut self, code: &str, phone: &str) -> Result<Joined, String> {
        let code = code.rsplit('/').next().unwrap_or(code);
        let now = self.now_s();
        let g = self
            .p
            .groups
            .values_mut()
            .find(|g| g.invite == code && g.kind == Kind::Group)
            .ok_or("the invite link is not valid")?;
        let gid = g.id.clone();
        if g.participants.iter().any(|p| p == phone) {
            return Ok(Joined::Member(gid));
        }
        if g.approval {
            if !g.requests.iter().any(|r| r.phone == phone) {
                g.requests.push(JoinRequest {
                    phone: phone.to_string(),
                    method: "InviteLink".into(),
                    at: now,
                });
                // WhatsApp tells the admins, as a notice in the group.
                let admins = g.admins.clone();
                self.notice_to(&gid, phone, "membership_approval_request", "", &admins);
            }
            return Ok(Joined::Requested(gid));
        }
        g.participants.push(phone.to_string());
        self.dirty = true;
        self.announce(&gid, "join", &[phone.to_string()], phone);
        self.bring_into_community(&gid, &[phone.to_string()], phone);
        Ok(Joined::Member(gid))
    }

    /// The requests to join (admins only).
    pub fn join_requests(&self, gid: &str, by: &str) -> Result<Vec<JoinRequest>, String> {
        let g = self.p.groups.get(gid).ok_or("no such group")?;
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can see the requests to join".into());
        }
        Ok(g.requests.clone())
    }

    /// An admin approves or rejects requests to join: an approved one is
    /// added, as an admin adds. Per phone: None, or why not.
    pub fn answer_requests(
        &mut self,
        gid: &str,
        by: &str,
        phones: &[String],
        approve: bool,
    ) -> Result<Vec<(String, Option<String>)>, String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if g.kind != Kind::Group {
            return Err("people join a community through its groups".into());
        }
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can answer requests to join".into());
        }
        let mut out = vec![];
        let mut added = vec![];
        for p in phones {
            match g.requests.iter().position(|r| &r.phone == p) {
                Some(i) => {
                    g.requests.remove(i);
                    if approve && !g.participants.contains(p) {
                        g.participants.push(p.clone());
                        added.push(p.clone());
                    }
                    out.push((p.clone(), None));
                }
                None => out.push((p.clone(), Some("no request to join from this user".into()))),
            }
        }
        self.dirty = true;
        if !added.is_empty() {
            self.announce(gid, "add", &added, by);
            self.bring_into_community(gid, &added, by);
        }
        Ok(out)
    }

    /// A participant may change the subject (only an admin, where the
    /// group is `restrict`); members see a notice.
    pub fn set_subject(&mut self, gid: &str, by: &str, subject: &str) -> Result<(), String> {
        if subject.trim().is_empty() {
            return Err("a group needs a subject".into());
        }
        let g = self.may_edit_info(gid, by)?;
        g.subject = subject.to_string();
        self.notice(gid, by, "subject", subject);
        Ok(())
    }

    /// As the subject, for the description; an empty one removes it.
    pub fn set_description(&mut self, gid: &str, by: &str, desc: &str) -> Result<(), String> {
        if desc.chars().count() > 2048 {
            return Err("a group description is at most 2048 characters".into());
        }
        let g = self.may_edit_info(gid, by)?;
        g.desc = desc.to_string();
        // WhatsApp Web's notice of it carries no text: the metadata does.
        self.notice(gid, by, "description", "");
        Ok(())
    }

    /// As the description, for the picture (None removes it); members see
    /// a notice.
    pub fn set_picture(
        &mut self,
        gid: &str,
        by: &str,
        picture: Option<String>,
    ) -> Result<(), String> {
        let g = self.may_edit_info(gid, by)?;
        let had = g.picture.is_some();
        g.picture = picture;
        if had || g.picture.is_some() {
            self.notice(gid, by, "picture", "");
        }
        Ok(())
    }

    /// Only admins change a setting; a change to what it already is says
    /// nothing (WhatsApp sends no notice for it).
    pub fn set_setting(&mut self, gid: &str, by: &str, s: Setting, on: bool) -> Result<(), String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.participants.iter().any(|p| p == by) {
            return Err("you are not a participant of this group".into());
        }
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can change the group's settings".into());
        }
        let now = match s {
            Setting::Announce => &mut g.announce,
            Setting::Restrict => &mut g.restrict,
        };
        if *now == on {
            return Ok(());
        }
        *now = on;
        self.notice(gid, by, s.subtype(), "");
        Ok(())
    }

    /// Disappearing messages on (for `secs`) or off: a setting, which
    /// only admins change from a linked device (wa-js's `setProperty`).
    pub fn set_ephemeral(&mut self, gid: &str, by: &str, secs: u32) -> Result<(), String> {
        if !EPHEMERAL_SECS.contains(&secs) {
            return Err(format!(
                "disappearing messages last one of {EPHEMERAL_SECS:?} seconds"
            ));
        }
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.participants.iter().any(|p| p == by) {
            return Err("you are not a participant of this group".into());
        }
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can change the group's settings".into());
        }
        if g.ephemeral == secs {
            return Ok(());
        }
        g.ephemeral = secs;
        self.notice(gid, by, "ephemeral", &secs.to_string());
        Ok(())
    }

    /// Only admins turn approval of who joins on or off; turning it off
    /// lets every pending request in, as WhatsApp does.
    pub fn set_approval(&mut self, gid: &str, by: &str, on: bool) -> Result<(), String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if g.kind != Kind::Group {
            return Err("people join a community through its groups".into());
        }
        if !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can change the group's settings".into());
        }
        if g.approval == on {
            return Ok(());
        }
        g.approval = on;
        let waiting: Vec<String> = if on {
            vec![]
        } else {
            g.requests.drain(..).map(|r| r.phone).collect()
        };
        self.notice(
            gid,
            by,
            "membership_approval_mode",
            if on { "on" } else { "off" },
        );
        if !waiting.is_empty() {
            self.answer_requests_all(gid, by, waiting);
        }
        Ok(())
    }

    fn answer_requests_all(&mut self, gid: &str, by: &str, phones: Vec<String>) {
        let Some(g) = self.p.groups.get_mut(gid) else {
            return;
        };
        let added: Vec<String> = phones
            .into_iter()
            .filter(|p| !g.participants.contains(p))
            .collect();
        g.participants.extend(added.iter().cloned());
        if !added.is_empty() {
            self.announce(gid, "add", &added, by);
            self.bring_into_community(gid, &added, by);
        }
    }

    fn may_edit_info(&mut self, gid: &str, by: &str) -> Result<&mut Group, String> {
        let g = self.p.groups.get_mut(gid).ok_or("no such group")?;
        if !g.participants.iter().any(|p| p == by) {
            return Err("you are not a participant of this group".into());
        }
        if g.restrict && !g.admins.iter().any(|a| a == by) {
            return Err("only group admins can change the group's info".into());
        }
        Ok(g)
    }

    /// WhatsApp announces a change to a group's info as a notice in the
    /// group (a `gp2` message of that subtype), with the group as it is now.
    fn notice(&mut self, gid: &str, by: &str, subtype: &str, body: &str) {
        let members = self
            .p
            .groups
            .get(gid)
            .map(|g| g.participants.clone())
            .unwrap_or_default();
        self.notice_to(gid, by, subtype, body, &members);
    }

    fn notice_to(&mut self, gid: &str, by: &str, subtype: &str, body: &str, to: &[String]) {
        self.dirty = true;
        let Some(g) = self.p.groups.get(gid) else {
            return;
        };
        let push = json!({"t": "group_notice", "gid": gid, "subtype": subtype, "body": body, "author": by,
                          "group": g.view(),
                          "id": format!("false_{gid}_3G{}_{by}@c.us", random_hex(16)), "ts": self.now_s()});
        for m in to {
            self.send_account(m, &push);
        }
    }

    /// A message to a group: stored with the sender and copied, as
    /// inbound, to every other member that is an account here.
    /// Returns (member account, the copy's id).
    pub fn group_fanout(
        &mut self,
        gid: &str,
        author: &str,
        msg: &SbMessage,
    ) -> Result<Vec<(String, String)>, String> {
        let g = self.p.groups.get(gid).ok_or("no such group")?;
        if !g.participants.iter().any(|p| p == author) {
            return Err("you are not a participant of this group".into());
        }
        if g.kind == Kind::Community {
            return Err(
                "a community has no chat of its own: write in its announcement group".into(),
            );
        }
        if g.announce && !g.admins.iter().any(|a| a == author) {
            return Err("only group admins can send messages to this group".into());
        }
        let members: Vec<String> = g
            .participants
            .iter()
            .filter(|p| *p != author)
            .cloned()
            .collect();
        let now = self.now_s();
        // The key all copies share: the author's (ours, sent from a
        // device), else a new one.
        let key = msg.group_key.clone().unwrap_or_else(|| random_hex(18));
        let mut copies = vec![];
        for m in members {
            let Some(acct) = self.p.accounts.get_mut(&m) else {
                continue;
            };
            let copy = SbMessage {
                // Each member's copy quotes what that member has of it.
                quoted: (msg.reply_to.as_deref())
                    .and_then(|r| acct.quote(r))
                    .or_else(|| msg.quoted.clone()),
                id: format!("false_{gid}_3A{}_{author}@c.us", random_hex(18)),
                // The receipts are the author's.
                receipts: Default::default(),
                from_me: false,
                peer: gid.to_string(),
                author: Some(author.to_string()),
                ack: 1,
                timestamp: now,
                delivered: false,
                reactions: Default::default(),
                edits: vec![],
                group_key: Some(key.clone()),
                ..msg.clone()
            };
            let wire = json!({"t": "message", "msg": copy.wire()});
            copies.push((m.clone(), copy.id.clone()));
            acct.push(copy);
            self.dirty = true;
            self.send_account(&m, &wire);
        }
        Ok(copies)
    }

    /// What a linked device asks about groups (`WPP.group.*`).
    pub fn device_group_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let gid = v["gid"].as_str().unwrap_or("");
        let phones = |k: &str| phones_in(v, k);
        match t {
            "groups" => Ok(json!(self.groups_of(me))),
            "group_info" => {
                let g = self.group(gid).ok_or("no such group")?;
                if !g.participants.iter().any(|p| p == me) {
                    return Err("you are not a participant of this group".into());
                }
                Ok(g.view())
            }
            // The group, and what WhatsApp said of each person named.
            "group_create" | "group_participants" => {
                let (mut view, added) = if t == "group_create" {
                    let subject = v["subject"].as_str().unwrap_or("");
                    self.create_group(me, subject, &phones("participants"))?
                } else {
                    self.change_participants(gid, me, &phones("add"), &phones("remove"))?
                };
                view["added"] = json!(added.iter().map(Added::wire).collect::<Vec<_>>());
                Ok(view)
            }
            "group_admins" => self.change_admins(gid, me, &phones("promote"), &phones("demote")),
            "group_invite" => self.invite_code(gid, me).map(Value::from),
            "group_invite_revoke" => self.revoke_invite(gid, me).map(Value::from),
            "group_invite_info" => self.invite_info(v["code"].as_str().unwrap_or("")),
            "group_join" => {
                self.join_group(v["code"].as_str().unwrap_or(""), me)
                    .map(|j| match j {
                        Joined::Member(gid) => json!(gid),
                        Joined::Requested(gid) => json!({"gid": gid, "requested": true}),
                    })
            }
            "group_requests" => {
                let list = self.join_requests(gid, me)?;
                Ok(json!(list.iter().map(|r| json!({
                    "id": format!("{}@c.us", r.phone), "addedBy": format!("{}@c.us", r.phone),
                    "requestMethod": r.method, "t": r.at,
                })).collect::<Vec<_>>()))
            }
            "group_requests_answer" => {
                let done = self.answer_requests(
                    gid,
                    me,
                    &phones("ids"),
                    v["approve"].as_bool().unwrap_or(false),
                )?;
                Ok(json!(
                    done.into_iter()
                        .map(|(p, e)| json!({"wid": format!("{p}@c.us"), "error": e}))
                        .collect::<Vec<_>>()
                ))
            }
            "group_subject" => self
                .set_subject(gid, me, v["subject"].as_str().unwrap_or(""))
                .map(|_| json!(true)),
            "group_description" => self
                .set_description(gid, me, v["desc"].as_str().unwrap_or(""))
                .map(|_| json!(true)),
            "group_setting" if v["property"] == "ephemeral" => {
                let secs = v["value"].as_u64().and_then(|s| u32::try_from(s).ok());
                self.set_ephemeral(gid, me, secs.ok_or("a duration in seconds")?)
                    .map(|_| json!(true))
            }
            "group_setting" => {
                let s = Setting::parse(v["property"].as_str().unwrap_or(""))
                    .ok_or("unknown group property")?;
                self.set_setting(gid, me, s, v["value"].as_bool().unwrap_or(false))
                    .map(|_| json!(true))
            }
            "group_picture" => self
                .set_picture(gid, me, v["data"].as_str().map(String::from))
                .map(|_| json!(true)),
            "group_leave" => self.leave_group(gid, me).map(|_| json!(true)),
            _ => Err(format!("unknown call {t}")),
        }
    }

    pub(super) fn announce(&self, gid: &str, action: &str, who: &[String], by: &str) {
        let members = self
            .p
            .groups
            .get(gid)
            .map(|g| g.participants.clone())
            .unwrap_or_default();
        self.announce_to(gid, action, who, by, &members);
    }

    pub(super) fn announce_to(
        &self,
        gid: &str,
        action: &str,
        who: &[String],
        by: &str,
        to: &[String],
    ) {
        let group = self.p.groups.get(gid).map(Group::view);
        let push = json!({"t": "group_participants", "gid": gid, "action": action, "author": by,
                          "participants": who.iter().map(|p| format!("{p}@c.us")).collect::<Vec<_>>(),
                          "group": group});
        for m in to {
            self.send_account(m, &push);
        }
    }
}
