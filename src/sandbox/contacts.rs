//! An account's address book in the simulated WhatsApp: the contacts it
//! saved, each with a first and a last name. WhatsApp keeps them in its
//! app state and syncs them to every device: a contact the phone saves,
//! renames or removes reaches the linked devices, and one a device saves
//! or removes reaches the phone and the other devices. A device may save a
//! contact to WhatsApp only, without the phone's own address book.

use super::world::World;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// WhatsApp's limit on each part of a saved name.
const MAX_NAME: usize = 100;

#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
pub struct Saved {
    pub first: String,
    #[serde(default)]
    pub last: String,
    /// Also in the phone's own address book (not only WhatsApp's).
    #[serde(default = "yes")]
    pub phone_book: bool,
}

fn yes() -> bool {
    true
}

impl World {
    /// The account's saved contacts, by phone.
    pub fn address_book(&self, account: &str) -> BTreeMap<String, Saved> {
        self.p
            .address_books
            .get(account)
            .cloned()
            .unwrap_or_default()
    }

    /// What a device learns of the people it may show: the address book,
    /// who of everyone WhatsApp knows is a business, and the privacy ids
    /// it knows people by (with the phone, where its owner shares it).
    pub(super) fn contacts_push(&self, account: &str) -> Value {
        let book: Vec<Value> = self
            .address_book(account)
            .into_iter()
            .map(|(phone, s)| json!({"id": format!("{phone}@c.us"), "first": s.first, "last": s.last}))
            .collect();
        let business: Vec<&String> = self
            .p
            .profiles
            .iter()
            .filter(|(_, p)| p.business.is_some())
            .map(|(phone, _)| phone)
            .collect();
        let lids: Vec<Value> = self
            .p
            .lids
            .iter()
            .map(|(user, e)| {
                json!([
                    format!("{user}@lid"),
                    e.shared.then(|| format!("{}@c.us", e.phone))
                ])
            })
            .collect();
        json!({"t": "contacts", "book": book, "business": business, "lids": lids})
    }

    /// Saves a contact, or renames a saved one; every device hears.
    pub fn save_contact(
        &mut self,
        account: &str,
        phone: &str,
        first: &str,
        last: &str,
        phone_book: bool,
    ) -> Result<Saved, String> {
        // Anyone on WhatsApp keeps an address book on their phone, linked
        // devices or not (whom they let add them to groups reads it).
        if self.p.unregistered.contains(account) {
            return Err(format!("{account} is not on WhatsApp"));
        }
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            return Err("send_the_required_fields: a contact needs a first name".into());
        }
        if first.chars().count() > MAX_NAME || last.chars().count() > MAX_NAME {
            return Err(format!("a name is at most {MAX_NAME} characters"));
        }
        if phone.is_empty() || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{phone} is not a phone number"));
        }
        let saved = Saved {
            first: first.to_string(),
            last: last.to_string(),
            phone_book,
        };
        self.p
            .address_books
            .entry(account.to_string())
            .or_default()
            .insert(phone.to_string(), saved.clone());
        self.dirty = true;
        self.send_account(account, &self.contacts_push(account));
        Ok(saved)
    }

    /// Takes a saved contact out of the address book; every device hears.
    pub fn remove_contact(&mut self, account: &str, phone: &str) -> Result<(), String> {
        let book = self.p.address_books.entry(account.to_string()).or_default();
        if book.remove(phone).is_none() {
            return Err(format!(
                "number_is_not_your_contact: the number {phone}@c.us is not your contact"
            ));
        }
        self.dirty = true;
        self.send_account(account, &self.contacts_push(account));
        Ok(())
    }

    /// What a linked device asks of its account's address book.
    pub fn device_contact_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let id = v["id"].as_str().unwrap_or("");
        // A privacy id names the phone behind it.
        let phone = match id.strip_suffix("@lid") {
            Some(lid) => match self.p.lids.get(lid) {
                Some(e) => e.phone.clone(),
                None => return Err(format!("contact_not_found: no contact {id}")),
            },
            None => id.trim_end_matches("@c.us").to_string(),
        };
        let phone = phone.as_str();
        match t {
            "contact_save" => self
                .save_contact(
                    me,
                    phone,
                    v["first"].as_str().unwrap_or(""),
                    v["last"].as_str().unwrap_or(""),
                    v["phone_book"].as_bool().unwrap_or(true),
                )
                .map(|s| json!(s)),
            "contact_remove" => self.remove_contact(me, phone).map(|_| json!(true)),
            _ => Err(format!("unknown call {t}")),
        }
    }
}
