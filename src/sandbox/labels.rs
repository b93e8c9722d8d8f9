//! WhatsApp Business labels in the simulated WhatsApp. Only a business
//! account has them: it starts with WhatsApp's five, may make up to 20,
//! each with a colour from WhatsApp's palette, and puts them on chats.
//! WhatsApp keeps them per account and syncs them to every device (its
//! app state): a label the phone puts on a chat reaches the linked
//! devices, and a device's reaches the phone.

use super::world::World;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// What a new business account has.
const DEFAULTS: [&str; 5] = [
    "New customer",
    "New order",
    "Pending payment",
    "Paid",
    "Order complete",
];

/// WhatsApp lets a business have this many labels.
pub const MAX_LABELS: usize = 20;

/// WhatsApp Business's label colours, by index (WhatsApp Web's table).
pub const PALETTE: [&str; 20] = [
    "#ff9485", "#64c4ff", "#ffd429", "#dfaef0", "#99b6c1", "#55ccb3", "#ff9dff", "#d3a91d",
    "#6d7cce", "#d7e752", "#00d0e2", "#ffc5c7", "#93ceac", "#f74848", "#00a0f2", "#83e422",
    "#ffaf04", "#b5ebff", "#9ba6ff", "#9368cf",
];

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
pub struct SbLabel {
    /// A small number, as WhatsApp numbers them ("1", "2", ...).
    pub id: String,
    pub name: String,
    /// An index into `PALETTE`.
    pub color: usize,
    /// The chats it is on (`…@c.us`, `…@g.us`).
    #[serde(default)]
    pub chats: BTreeSet<String>,
}

impl SbLabel {
    /// As a device holds it.
    pub fn wire(&self) -> Value {
        json!({"id": self.id, "name": self.name, "color": self.color, "chats": self.chats})
    }
}

impl World {
    pub fn is_business(&self, account: &str) -> bool {
        self.p.business.contains(account)
    }

    /// The account becomes a business account (with WhatsApp's five
    /// labels, the first time), or a personal one again.
    pub fn set_business(&mut self, account: &str, on: bool) -> Result<(), String> {
        if !self.p.accounts.contains_key(account) {
            return Err(format!("no account {account}"));
        }
        if on {
            self.p.business.insert(account.to_string());
            let labels = self.p.labels.entry(account.to_string()).or_default();
            if labels.is_empty() {
                for (i, name) in DEFAULTS.iter().enumerate() {
                    labels.push(SbLabel {
                        id: (i + 1).to_string(),
                        name: name.to_string(),
                        color: i,
                        chats: BTreeSet::new(),
                    });
                }
            }
        } else {
            self.p.business.remove(account);
        }
        self.dirty = true;
        self.send_account(account, &json!({"t": "business", "business": on}));
        self.push_labels(account);
        Ok(())
    }

    pub fn labels(&self, account: &str) -> Vec<SbLabel> {
        match self.is_business(account) {
            true => self.p.labels.get(account).cloned().unwrap_or_default(),
            false => vec![],
        }
    }

    /// Every device of the account gets its labels as they are now.
    pub(super) fn push_labels(&self, account: &str) {
        let labels: Vec<Value> = self.labels(account).iter().map(SbLabel::wire).collect();
        self.send_account(account, &json!({"t": "labels", "labels": labels}));
    }

    fn business_labels(&mut self, account: &str) -> Result<&mut Vec<SbLabel>, String> {
        if !self.is_business(account) {
            return Err("is_not_business: this account is not a business account".into());
        }
        Ok(self.p.labels.entry(account.to_string()).or_default())
    }

    pub fn add_label(
        &mut self,
        account: &str,
        name: &str,
        color: Option<usize>,
    ) -> Result<SbLabel, String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("a label's name is 1 to 100 characters".into());
        }
        if color.is_some_and(|c| c >= PALETTE.len()) {
            return Err("color_not_in_pallet: that colour is not in the palette".into());
        }
        let labels = self.business_labels(account)?;
        if labels.len() >= MAX_LABELS {
            return Err(format!("a business has at most {MAX_LABELS} labels"));
        }
        let next = labels
            .iter()
            .filter_map(|l| l.id.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let label = SbLabel {
            id: next.to_string(),
            name: name.to_string(),
            color: color.unwrap_or(labels.len() % PALETTE.len()),
            chats: BTreeSet::new(),
        };
        labels.push(label.clone());
        self.dirty = true;
        self.push_labels(account);
        Ok(label)
    }

    pub fn edit_label(
        &mut self,
        account: &str,
        id: &str,
        name: Option<&str>,
        color: Option<usize>,
    ) -> Result<SbLabel, String> {
        if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 100) {
            return Err("a label's name is 1 to 100 characters".into());
        }
        if color.is_some_and(|c| c >= PALETTE.len()) {
            return Err("color_not_in_pallet: that colour is not in the palette".into());
        }
        let labels = self.business_labels(account)?;
        let l = labels
            .iter_mut()
            .find(|l| l.id == id)
            .ok_or_else(|| format!("label_not_exist: no label {id}"))?;
        if let Some(n) = name {
            l.name = n.trim().to_string();
        }
        // WhatsApp Web's edit takes `color || the old one`: the first
        // colour cannot be set on a label that has another.
        if let Some(c) = color.filter(|c| *c != 0) {
            l.color = c;
        }
        let l = l.clone();
        self.dirty = true;
        self.push_labels(account);
        Ok(l)
    }

    /// Deletes a label (from every chat it was on); false if there was none.
    pub fn delete_label(&mut self, account: &str, id: &str) -> Result<bool, String> {
        let labels = self.business_labels(account)?;
        let before = labels.len();
        labels.retain(|l| l.id != id);
        let gone = labels.len() != before;
        if gone {
            self.dirty = true;
            self.push_labels(account);
        }
        Ok(gone)
    }

    /// Puts a label on chats, or takes it off; every device hears which.
    pub fn label_chats(
        &mut self,
        account: &str,
        id: &str,
        chats: &[String],
        add: bool,
    ) -> Result<(), String> {
        let labels = self.business_labels(account)?;
        let l = labels
            .iter_mut()
            .find(|l| l.id == id)
            .ok_or_else(|| format!("label_not_exist: no label {id}"))?;
        let changed: Vec<String> = chats
            .iter()
            .filter(|c| match add {
                true => l.chats.insert(c.to_string()),
                false => l.chats.remove(*c),
            })
            .cloned()
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        self.dirty = true;
        self.send_account(
            account,
            &json!({"t": "label_chats", "label": id, "chats": changed,
                    "type": if add { "add" } else { "remove" }}),
        );
        self.push_labels(account);
        Ok(())
    }

    /// What a linked device asks of its account's labels.
    pub fn device_label_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let id = v["id"].as_str().unwrap_or("");
        let color = v["color"].as_u64().map(|c| c as usize);
        match t {
            "label_add" => self
                .add_label(me, v["name"].as_str().unwrap_or(""), color)
                .map(|l| l.wire()),
            "label_edit" => self
                .edit_label(me, id, v["name"].as_str(), color)
                .map(|l| l.wire()),
            "label_delete" => self.delete_label(me, id).map(Value::from),
            "label_chats" => {
                let chats = super::world::strings(v, "chats");
                let add = v["type"].as_str() == Some("add");
                self.label_chats(me, id, &chats, add).map(|_| json!(true))
            }
            _ => Err(format!("unknown call {t}")),
        }
    }
}
