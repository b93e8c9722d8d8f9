//! Communities in the simulated WhatsApp, as WhatsApp runs them: a
//! community is a parent group with no chat of its own and an announcement
//! group where only admins write. Linking a group brings its members into
//! the community (and so into the announcement group); unlinking one lets
//! go those who are in no other linked group. Community admins link and
//! unlink groups (each an admin's of that group too) and make admins; only
//! the creator deactivates it, which unlinks every group and closes the
//! announcement group. Members are told as WhatsApp tells them: the
//! announcement group's participant changes, and each group's metadata.

use super::groups::{Group, Kind, new_group_id, phones_in};
use super::world::{World, random_hex};
use serde_json::{Value, json};

/// Why a group could not be linked or unlinked, as WhatsApp's server
/// answers per group: 404 no such group, 403 not its admin, 409 already
/// in a community (or not a plain group).
type Failed = Vec<(String, &'static str)>;

impl World {
    /// `owner` creates a community and, with it, its announcement group.
    pub fn create_community(
        &mut self,
        owner: &str,
        name: &str,
        desc: &str,
    ) -> Result<Value, String> {
        if name.trim().is_empty() {
            return Err("a community needs a name".into());
        }
        let now = self.now_s();
        let cid = new_group_id();
        let aid = new_group_id();
        let group = |id: &str, kind: Kind, parent: Option<String>| Group {
            id: id.to_string(),
            subject: name.to_string(),
            owner: owner.to_string(),
            created: now,
            participants: vec![owner.to_string()],
            admins: vec![owner.to_string()],
            invite: random_hex(22),
            desc: desc.to_string(),
            // Only admins write in the announcement group, and only they
            // change what the community is called and says.
            announce: kind == Kind::Announcement,
            restrict: true,
            picture: None,
            approval: false,
            requests: vec![],
            ephemeral: 0,
            add_invites: Default::default(),
            kind,
            parent,
            subgroups: vec![],
        };
        let mut community = group(&cid, Kind::Community, None);
        community.subgroups = vec![aid.clone()];
        self.p.groups.insert(cid.clone(), community);
        self.p.groups.insert(
            aid.clone(),
            group(&aid, Kind::Announcement, Some(cid.clone())),
        );
        self.dirty = true;
        self.tell_meta(&cid, &[owner.to_string()]);
        self.announce(&aid, "create", &[owner.to_string()], owner);
        Ok(self.p.groups.get(&cid).map(Group::view).unwrap_or_default())
    }

    fn community_admin(&self, cid: &str, by: &str) -> Result<&Group, String> {
        let c = self
            .p
            .groups
            .get(cid)
            .filter(|g| g.kind == Kind::Community)
            .ok_or("no such community")?;
        if !c.participants.iter().any(|p| p == by) {
            return Err("you are not a member of this community".into());
        }
        if !c.admins.iter().any(|a| a == by) {
            return Err("only community admins can change the community".into());
        }
        Ok(c)
    }

    /// Links groups (each `by`'s to run) to a community `by` runs.
    pub fn link_subgroups(
        &mut self,
        cid: &str,
        by: &str,
        subs: &[String],
    ) -> Result<(Vec<String>, Failed), String> {
        self.community_admin(cid, by)?;
        let (mut linked, mut failed) = (vec![], vec![]);
        for sid in subs {
            let why = match self.p.groups.get(sid) {
                None => Some("404"),
                Some(g) if g.kind != Kind::Group || g.parent.is_some() => Some("409"),
                Some(g) if !g.admins.iter().any(|a| a == by) => Some("403"),
                Some(_) => None,
            };
            if let Some(why) = why {
                failed.push((sid.clone(), why));
                continue;
            }
            let Some(g) = self.p.groups.get_mut(sid) else {
                continue;
            };
            g.parent = Some(cid.to_string());
            let members = g.participants.clone();
            if let Some(c) = self.p.groups.get_mut(cid) {
                c.subgroups.push(sid.clone());
            }
            self.dirty = true;
            self.tell_meta(sid, &members);
            self.bring_into_community(sid, &members, by);
            linked.push(sid.clone());
        }
        if !linked.is_empty() {
            self.tell_community(cid);
        }
        Ok((linked, failed))
    }

    /// Unlinks groups from a community `by` runs: they stay, as groups of
    /// their own; those no other linked group holds leave the community.
    pub fn unlink_subgroups(
        &mut self,
        cid: &str,
        by: &str,
        subs: &[String],
    ) -> Result<(Vec<String>, Failed), String> {
        self.community_admin(cid, by)?;
        let (mut unlinked, mut failed) = (vec![], vec![]);
        for sid in subs {
            let Some(g) = self
                .p
                .groups
                .get_mut(sid)
                .filter(|g| g.kind == Kind::Group && g.parent.as_deref() == Some(cid))
            else {
                failed.push((sid.clone(), "404"));
                continue;
            };
            g.parent = None;
            let members = g.participants.clone();
            if let Some(c) = self.p.groups.get_mut(cid) {
                c.subgroups.retain(|s| s != sid);
            }
            self.dirty = true;
            self.tell_meta(sid, &members);
            unlinked.push(sid.clone());
        }
        if !unlinked.is_empty() {
            self.let_go(cid, by);
            self.tell_community(cid);
        }
        Ok((unlinked, failed))
    }

    /// The creator ends a community: every group is unlinked and stays;
    /// the announcement group closes, and everyone is out of it.
    pub fn deactivate_community(&mut self, cid: &str, by: &str) -> Result<(), String> {
        let c = self.community_admin(cid, by)?;
        if c.owner != by {
            return Err("only the community's creator can deactivate it".into());
        }
        let subs = c.subgroups.clone();
        let everyone = c.participants.clone();
        for sid in &subs {
            let Some(g) = self.p.groups.get_mut(sid) else {
                continue;
            };
            if g.kind == Kind::Announcement {
                // Everyone out of it, told with it as it is then; then gone.
                g.participants.clear();
                g.admins.clear();
                self.announce_to(sid, "remove", &everyone, by, &everyone);
                self.p.groups.remove(sid);
                self.tell_meta(sid, &everyone);
                continue;
            }
            g.parent = None;
            let members = g.participants.clone();
            self.tell_meta(sid, &members);
        }
        self.p.groups.remove(cid);
        self.dirty = true;
        self.tell_meta(cid, &everyone);
        Ok(())
    }

    /// Makes community members its admins, or members again (community
    /// admins only); its announcement group follows.
    pub fn community_admins(
        &mut self,
        cid: &str,
        by: &str,
        promote: &[String],
        demote: &[String],
    ) -> Result<Value, String> {
        let aid = self.community_admin(cid, by)?.subgroups.first().cloned();
        let view = self.change_admins_of(cid, by, promote, demote)?;
        if let Some(aid) = aid {
            self.change_admins_of(&aid, by, promote, demote)?;
        }
        self.tell_community(cid);
        Ok(view)
    }

    /// `phone` exits a community: its linked groups and the announcement
    /// group, as WhatsApp's "Exit community" does.
    pub(super) fn exit_community(&mut self, cid: &str, phone: &str) -> Result<(), String> {
        let c = self.p.groups.get(cid).ok_or("no such group")?;
        if !c.participants.iter().any(|p| p == phone) {
            return Err("not a member of this community".into());
        }
        let subs = c.subgroups.clone();
        for sid in &subs {
            let kind = self.p.groups.get(sid).map(|g| g.kind);
            let member = self
                .p
                .groups
                .get(sid)
                .is_some_and(|g| g.participants.iter().any(|p| p == phone));
            if kind == Some(Kind::Group) && member {
                self.leave_group(sid, phone)?;
            }
        }
        self.drop_members(cid, &[phone.to_string()], phone, "leaver");
        self.tell_gone(cid, &[phone.to_string()]);
        self.tell_community(cid);
        Ok(())
    }

    /// People new to a linked group come into its community.
    pub(super) fn bring_into_community(&mut self, gid: &str, people: &[String], by: &str) {
        let Some(cid) = self
            .p
            .groups
            .get(gid)
            .filter(|g| g.kind == Kind::Group)
            .and_then(|g| g.parent.clone())
        else {
            return;
        };
        let Some(c) = self.p.groups.get_mut(&cid) else {
            return;
        };
        let new: Vec<String> = people
            .iter()
            .filter(|p| !c.participants.contains(p))
            .cloned()
            .collect();
        if new.is_empty() {
            return;
        }
        c.participants.extend(new.iter().cloned());
        let aid = c.subgroups.first().cloned();
        self.dirty = true;
        self.tell_community(&cid);
        if let Some(aid) = aid
            && let Some(a) = self.p.groups.get_mut(&aid)
        {
            a.participants.extend(new.iter().cloned());
            self.announce(&aid, "add", &new, by);
        }
    }

    /// Those no linked group holds any more leave the community (its
    /// admins stay).
    fn let_go(&mut self, cid: &str, by: &str) {
        let Some(c) = self.p.groups.get(cid) else {
            return;
        };
        let held = |p: &String| {
            c.subgroups.iter().any(|s| {
                self.p
                    .groups
                    .get(s)
                    .is_some_and(|g| g.kind == Kind::Group && g.participants.contains(p))
            })
        };
        let gone: Vec<String> = c
            .participants
            .iter()
            .filter(|p| !c.admins.contains(p) && !held(p))
            .cloned()
            .collect();
        if !gone.is_empty() {
            self.drop_members(cid, &gone, by, "remove");
            self.tell_gone(cid, &gone);
        }
    }

    /// Takes people out of a community and its announcement group, which
    /// tells them and those who stay.
    fn drop_members(&mut self, cid: &str, who: &[String], by: &str, action: &str) {
        let Some(c) = self.p.groups.get_mut(cid) else {
            return;
        };
        c.participants.retain(|p| !who.contains(p));
        c.admins.retain(|p| !who.contains(p));
        let aid = c.subgroups.first().cloned();
        self.dirty = true;
        self.keep_an_admin(cid, by);
        if let Some(aid) = aid
            && let Some(a) = self.p.groups.get_mut(&aid)
        {
            a.participants.retain(|p| !who.contains(p));
            a.admins.retain(|p| !who.contains(p));
            self.announce_to(&aid, action, who, by, who);
            self.announce(&aid, action, who, by);
            self.keep_an_admin(&aid, by);
        }
    }

    /// Tells a community's members what it is now (its groups, admins).
    fn tell_community(&self, cid: &str) {
        let members = self
            .p
            .groups
            .get(cid)
            .map(|c| c.participants.clone())
            .unwrap_or_default();
        self.tell_meta(cid, &members);
    }

    /// A community's metadata gone from the devices of those out of it, as
    /// WhatsApp Web forgets one it left.
    fn tell_gone(&self, gid: &str, to: &[String]) {
        let push = json!({"t": "group_meta", "gid": gid, "group": null});
        for m in to {
            self.send_account(m, &push);
        }
    }

    /// A group's metadata as it is now (null once gone), to `to`'s devices:
    /// WhatsApp Web's copy of it follows, with no message in any chat.
    fn tell_meta(&self, gid: &str, to: &[String]) {
        let push = json!({"t": "group_meta", "gid": gid,
                          "group": self.p.groups.get(gid).map(Group::view)});
        for m in to {
            self.send_account(m, &push);
        }
    }

    /// What a linked device asks about communities (`WPP.community.*`).
    pub fn device_community_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let cid = v["cid"].as_str().unwrap_or("");
        let list = |k: &str| phones_in(v, k);
        let outcome = |(done, failed): (Vec<String>, Failed)| {
            json!({
                "linkedGroupJids": done,
                "failedGroups": failed.into_iter().map(|(jid, error)| json!({"jid": jid, "error": error})).collect::<Vec<_>>(),
            })
        };
        match t {
            "community_create" => self.create_community(
                me,
                v["name"].as_str().unwrap_or(""),
                v["desc"].as_str().unwrap_or(""),
            ),
            "community_link" => self.link_subgroups(cid, me, &list("groups")).map(outcome),
            "community_unlink" => self.unlink_subgroups(cid, me, &list("groups")).map(outcome),
            "community_deactivate" => self.deactivate_community(cid, me).map(|_| json!(true)),
            "community_admins" => self.community_admins(cid, me, &list("promote"), &list("demote")),
            "community_participants" => {
                let c = self
                    .p
                    .groups
                    .get(cid)
                    .filter(|g| g.kind == Kind::Community && g.participants.iter().any(|p| p == me))
                    .ok_or("no such community")?;
                Ok(c.view()["participants"].clone())
            }
            _ => Err(format!("unknown call {t}")),
        }
    }
}
