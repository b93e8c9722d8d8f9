//! The Meta Cloud API dialect's conversions, all pure: Graph errors, the
//! `/messages` request body into a core send, responses, media ids,
//! business-scoped user ids, templates, and the webhook envelope.

use crate::core::{CardOf, CoreError, MediaSource, OutgoingMedia, SendRequest, Special};
use crate::domain::{
    Location, Menu, MenuKind, Message, SessionId, Wid, parse_phone, phone_or_lid, sender_of,
    user_of,
};
use axum::http::StatusCode;
use serde_json::{Value, json};

// ---- errors: {"error": {"message", "type", "code", "error_subcode"?, "error_data", "fbtrace_id"}}

#[derive(Debug)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: u32,
    pub subcode: Option<u32>,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            subcode: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 100: a parameter is missing or wrong.
    pub fn param(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, message)
    }

    /// Graph's answer to a path it has no edge for.
    pub fn unknown_path(path: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            format!("Unknown path components: {path}"),
        )
    }

    pub fn body(&self) -> Value {
        // Graph's "(#code) " once, whether or not the message has it.
        let message = match self.message.starts_with("(#") {
            true => self.message.clone(),
            false => format!("(#{}) {}", self.code, self.message),
        };
        let mut e = json!({
            "message": message,
            // Graph API errors of the WhatsApp endpoints are all of this type.
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.message},
            "fbtrace_id": fbtrace(&self.message),
        });
        if let Some(s) = self.subcode {
            e["error_subcode"] = json!(s);
        }
        json!({"error": e})
    }
}

/// An opaque trace id, as Graph gives one per error.
fn fbtrace(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{seed}{}", ulid::Ulid::new()).as_bytes());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &d[..9])
}

/// Graph's subcode for an object that does not exist (with code 100).
pub const NO_SUCH_OBJECT: u32 = 33;

impl From<CoreError> for GraphError {
    fn from(e: CoreError) -> Self {
        let msg = e.to_string();
        match e {
            CoreError::SessionNotFound(id) => {
                let mut g = Self::new(
                    StatusCode::BAD_REQUEST,
                    100,
                    format!("Unsupported post request. Object with ID '{id}' does not exist"),
                );
                g.subcode = Some(NO_SUCH_OBJECT);
                g
            }
            CoreError::NotOnWhatsApp(_) => Self::new(
                StatusCode::BAD_REQUEST,
                131026,
                format!("Message Undeliverable: {msg}"),
            ),
            CoreError::Invalid { field, why } if field.starts_with("media") => Self::new(
                StatusCode::BAD_REQUEST,
                131053,
                format!("Media upload error: {field} {why}"),
            ),
            CoreError::Invalid { field, why } => {
                Self::param(format!("Invalid parameter: {field} {why}"))
            }
            CoreError::MediaTooLarge(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                131053,
                format!("Media upload error: {msg}"),
            ),
            // Graph answers an object it cannot find with 400, code 100.
            CoreError::NotFound { .. } => Self::new(StatusCode::BAD_REQUEST, 100, msg),
            // What the message cannot be, however often it is asked
            // (a reply to a deleted message, a group only admins write
            // to): Meta's "Parameter value is not valid", not an outage a
            // client would retry.
            CoreError::Conflict { .. } | CoreError::SessionExists(_) => Self::new(
                StatusCode::BAD_REQUEST,
                131009,
                format!("Parameter value is not valid: {msg}"),
            ),
            CoreError::NotReady(_) | CoreError::IdempotencyInProgress => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                131016,
                format!("Service unavailable: {msg}"),
            ),
            // Meta's 131000 ("Something went wrong") comes with 500.
            CoreError::WhatsApp(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                131000,
                format!("Something went wrong: {msg}"),
            ),
            CoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                131016,
                format!("Service unavailable: {msg}"),
            ),
            CoreError::Internal(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, 131000, msg),
            // Meta's "Permission denied" (OAuthException 10).
            CoreError::Forbidden { .. } => Self::new(
                StatusCode::FORBIDDEN,
                10,
                format!("Permission denied: {msg}"),
            ),
            CoreError::StorageFull(_) | CoreError::Overloaded { .. } => {
                let mut g = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    131016,
                    format!("Service unavailable: {msg}"),
                );
                g.retry_after = e.retry_after_secs();
                g
            }
            // Meta's "Rate limit hit".
            CoreError::RateLimited { .. } => {
                let mut g = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    130429,
                    format!("Rate limit hit: {msg}"),
                );
                g.retry_after = e.retry_after_secs();
                g
            }
        }
    }
}

/// The Cloud API's business verticals (`vertical`). WhatsApp Web keeps a
/// business's categories, which are not these: a profile shows
/// `UNDEFINED`, and one given is taken as valid and left so.
pub const VERTICALS: &[&str] = &[
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "NOT_A_BIZ",
];

/// `GET /{phone_number_id}/whatsapp_business_profile`: the account's
/// profile (`{about, picture_url, business}` as the core answers it) as
/// Graph's `{data: [{...}]}`, with the `fields` asked for (all when none
/// is), a field with no value left out, as Graph does.
pub fn business_profile(profile: &Value, fields: Option<&str>) -> Result<Value, GraphError> {
    const FIELDS: [&str; 7] = [
        "about",
        "address",
        "description",
        "email",
        "profile_picture_url",
        "websites",
        "vertical",
    ];
    // `fields=` with nothing in it asks for all, as leaving it out does.
    let asked: Option<Vec<&str>> = fields
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|a| !a.is_empty());
    if let Some(bad) = asked.iter().flatten().find(|f| !FIELDS.contains(f)) {
        return Err(GraphError::param(format!(
            "(#100) Tried accessing nonexisting field ({bad}) on node type (WhatsAppBusinessProfile)"
        )));
    }
    let b = &profile["business"];
    let mut out = serde_json::Map::new();
    for (k, v) in [
        ("about", profile["about"].clone()),
        ("address", b["address"].clone()),
        ("description", b["description"].clone()),
        ("email", b["email"].clone()),
        ("profile_picture_url", profile["picture_url"].clone()),
        ("websites", b["website"].clone()),
        ("vertical", json!("UNDEFINED")),
    ] {
        let wanted = asked.as_ref().is_none_or(|a| a.contains(&k));
        let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
        if wanted && !empty {
            out.insert(k.into(), v);
        }
    }
    out.insert("messaging_product".into(), json!("whatsapp"));
    Ok(json!({"data": [out]}))
}

/// What `POST /{phone_number_id}/whatsapp_business_profile` asks: the
/// about, the business profile, and `profile_picture_handle` (the id of a
/// media uploaded here), checked as Graph does (`""` clears a field; the
/// about cannot be cleared).
pub struct BusinessUpdate {
    pub about: Option<String>,
    pub business: crate::core::BusinessEdit,
    pub picture_handle: Option<String>,
}

pub fn business_update(body: &Value) -> Result<BusinessUpdate, GraphError> {
    let Some(obj) = body.as_object() else {
        return Err(GraphError::param(
            "(#100) The parameter messaging_product is required.",
        ));
    };
    if body["messaging_product"] != "whatsapp" {
        return Err(GraphError::param(
            "(#100) The parameter messaging_product is required and must be 'whatsapp'",
        ));
    }
    let known = [
        "messaging_product",
        "about",
        "address",
        "description",
        "email",
        "websites",
        "vertical",
        "profile_picture_handle",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(GraphError::param(format!(
            "(#100) Param {k} is not a valid parameter of the business profile"
        )));
    }
    let text = |k: &str| -> Result<Option<String>, GraphError> {
        match &body[k] {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(GraphError::param(format!(
                "(#100) Param {k} must be a string"
            ))),
        }
    };
    let about = text("about")?;
    if about
        .as_deref()
        .is_some_and(|a| a.is_empty() || a.chars().count() > 139)
    {
        return Err(GraphError::param(
            "(#100) Param about must be between 1 and 139 characters",
        ));
    }
    let websites = match &body["websites"] {
        Value::Null => None,
        // pywa clears a field with "".
        Value::String(s) if s.is_empty() => Some(vec![]),
        Value::Array(list) => Some(
            list.iter()
                .map(|u| u.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| GraphError::param("(#100) Param websites must be a list of URLs"))?,
        ),
        _ => {
            return Err(GraphError::param(
                "(#100) Param websites must be a list of URLs",
            ));
        }
    };
    match &body["vertical"] {
        Value::Null => {}
        Value::String(v) if v.is_empty() || VERTICALS.contains(&v.as_str()) => {}
        _ => {
            return Err(GraphError::param(format!(
                "(#100) Param vertical must be one of {}",
                VERTICALS.join(", ")
            )));
        }
    }
    Ok(BusinessUpdate {
        about,
        business: crate::core::BusinessEdit {
            description: text("description")?,
            address: text("address")?,
            email: text("email")?,
            websites,
        },
        picture_handle: text("profile_picture_handle")?.filter(|h| !h.is_empty()),
    })
}

/// `v{N}.0` (any version): Cloud API paths start with one.
pub fn is_version(v: &str) -> bool {
    v.strip_prefix('v').is_some_and(|n| {
        let mut parts = n.split('.');
        let major = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let minor = parts
            .next()
            .is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        major && minor && parts.next().is_none()
    })
}

// ---- business-scoped user ids: `US.<digits>`, stable per contact and session

/// Turns phone numbers into business-scoped ids and back, with a key kept
/// by the daemon: the number under a keyed pad, per session, followed by a
/// keyed check value, so that an id this daemon never gave out (a typo, a
/// stale id, another session's) is refused instead of decoding to some
/// stranger's number.
#[derive(Clone)]
pub struct UserIds {
    key: [u8; 32],
    /// Keys ids were given out under before (this peer's own, from before
    /// it shared a cluster's): still read, never given.
    older: Vec<[u8; 32]>,
}

const PHONE_BITS: u32 = 50; // 10^15 < 2^50
const CHECK_BITS: u32 = 30; // a guessed id passes once in a billion

impl UserIds {
    pub fn new(key: [u8; 32]) -> Self {
        UserIds { key, older: vec![] }
    }

    /// Ids every peer of a cluster gives alike, from the cluster's key, so
    /// that a contact keeps theirs when their session moves to another
    /// peer; those this peer gave under its own key (`own`) still read.
    pub fn shared(cluster_key: &[u8], own: [u8; 32]) -> Self {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(cluster_key).expect("any key length");
        mac.update(b"wabridge cloud user ids");
        UserIds {
            key: mac.finalize().into_bytes().into(),
            older: vec![own],
        }
    }

    /// The low `bits` of a keyed hash of `parts`.
    fn mac(&self, parts: &[&[u8]], bits: u32) -> u64 {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key).expect("any key length");
        for p in parts {
            mac.update(p);
        }
        let d = mac.finalize().into_bytes();
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) & ((1 << bits) - 1)
    }

    fn pad(&self, session: &SessionId) -> u64 {
        self.mac(&[session.as_str().as_bytes()], PHONE_BITS)
    }

    fn check(&self, session: &SessionId, phone: u64) -> u64 {
        self.mac(
            &[
                session.as_str().as_bytes(),
                b"\0check",
                &phone.to_be_bytes(),
            ],
            CHECK_BITS,
        )
    }

    /// The id of a person by `phone_or_lid`: a phone, or a privacy id
    /// (marked by the bit above the number's, so it decodes to `…@lid`);
    /// or of a group (`…@g.us`, marked so that it decodes to no one: a
    /// group is sent to by its id).
    pub fn user_id(&self, session: &SessionId, person: &str) -> String {
        let (digits, lid) = match (person.strip_suffix("@lid"), person.strip_suffix("@g.us")) {
            (Some(d), _) => (d.to_string(), 1u64),
            (_, Some(g)) => (g.replace('-', ""), 2),
            _ => (person.to_string(), 0),
        };
        // A group's id has more digits than a phone's: its low ones.
        let n: u64 = (digits.parse::<u128>().unwrap_or(0) % (1u128 << PHONE_BITS)) as u64;
        let tagged = n | lid << PHONE_BITS;
        let hidden = u128::from((n ^ self.pad(session)) | lid << PHONE_BITS);
        format!(
            "US.{}",
            hidden << CHECK_BITS | u128::from(self.check(session, tagged))
        )
    }

    /// The person behind a user id this daemon gave out for this session:
    /// a phone, or a privacy id `…@lid`.
    pub fn phone(&self, session: &SessionId, user_id: &str) -> Option<String> {
        std::iter::once(self.key)
            .chain(self.older.iter().copied())
            .find_map(|key| UserIds::new(key).phone_under(session, user_id))
    }

    fn phone_under(&self, session: &SessionId, user_id: &str) -> Option<String> {
        let v: u128 = user_id.strip_prefix("US.")?.parse().ok()?;
        let hidden = u64::try_from(v >> CHECK_BITS).ok()?;
        let lid = hidden >> PHONE_BITS;
        if lid > 1 {
            return None;
        }
        let n = (hidden & ((1 << PHONE_BITS) - 1)) ^ self.pad(session);
        if u128::from(self.check(session, n | lid << PHONE_BITS)) != v & ((1 << CHECK_BITS) - 1) {
            return None;
        }
        let digits = n.to_string();
        match lid {
            1 => Some(format!("{digits}@lid")),
            _ => (7..=15).contains(&digits.len()).then_some(digits),
        }
    }
}

// ---- media ids: digits (clients take an all-digit string for an id)

/// The media id of a stored message's media.
pub fn message_media_id(session: &SessionId, msg_id: &str) -> String {
    u128::from_be_bytes(Message::short_id(session, msg_id)).to_string()
}

/// The short id behind a message's media id.
pub fn short_of_media_id(id: &str) -> Option<[u8; 16]> {
    id.parse::<u128>().ok().map(u128::to_be_bytes)
}

// ---- POST /{version}/{phone_number_id}/messages

/// What a `/messages` call asks.
// Most calls are sends: boxing the large variant would cost them an
// allocation, to save bytes on a value that lives for one request.
#[allow(clippy::large_enum_variant)]
pub enum Request {
    Send {
        input: String,
        to: Wid,
        send: SendRequest,
        /// `biz_opaque_callback_data`: told back in the message's statuses.
        tracker: Option<String>,
    },
    Read {
        message_id: String,
        /// `typing_indicator: {type: "text"}`: "typing…" shows too.
        typing: bool,
    },
    Template {
        input: String,
        to: Wid,
        name: String,
        params: Vec<TemplateParam>,
        reply_to: Option<String>,
        tracker: Option<String>,
    },
    /// A reaction to a message; an empty emoji takes it back.
    React {
        input: String,
        to: Wid,
        message_id: String,
        emoji: String,
    },
}

fn str_at<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

/// Reads a `/messages` body. `users` turns a `recipient` user id into a phone.
pub fn request(body: &Value, session: &SessionId, users: &UserIds) -> Result<Request, GraphError> {
    if !body.is_object() {
        return Err(GraphError::param("The request body must be a JSON object"));
    }
    if let Some(p) = body.get("messaging_product") {
        if p != "whatsapp" {
            return Err(GraphError::param(
                "Invalid parameter: messaging_product must be 'whatsapp'",
            ));
        }
    } else {
        return Err(GraphError::param(
            "The parameter messaging_product is required.",
        ));
    }
    if body["status"] == "read" {
        let id = str_at(body, "message_id")
            .ok_or_else(|| GraphError::param("The parameter message_id is required."))?;
        let typing = match &body["typing_indicator"] {
            Value::Null => false,
            t if t["type"] == "text" => true,
            _ => {
                return Err(GraphError::param(
                    "Invalid parameter: typing_indicator['type'] must be 'text'",
                ));
            }
        };
        return Ok(Request::Read {
            message_id: id.to_string(),
            typing,
        });
    }
    let (input, phone) = match (str_at(body, "to"), str_at(body, "recipient")) {
        // A sender whose phone is unknown came as its privacy id: `from`
        // answered back as `to` (a client that takes any id it cannot
        // read as a phone for a group's says `recipient_type: group`).
        (Some(to), _) if to.trim().ends_with("@lid") => (to.to_string(), to.trim().to_string()),
        // Meta's Groups API: `to` is a group's id, as its messages'
        // `group_id` (`…@g.us`, or its bare digits with `recipient_type:
        // group`).
        (Some(to), _) if body["recipient_type"] == "group" || is_group_id(to) => {
            let id = to.trim().trim_end_matches("@g.us");
            (to.to_string(), format!("{id}@g.us"))
        }
        (Some(to), _) => (
            to.to_string(),
            parse_phone(to)
                .map_err(|e| GraphError::param(format!("Invalid parameter: to: {e}")))?,
        ),
        (None, Some(r)) => (
            r.to_string(),
            users.phone(session, r).ok_or_else(|| {
                GraphError::param(format!(
                    "Invalid parameter: recipient '{r}' is not a user id of this phone number"
                ))
            })?,
        ),
        (None, None) => return Err(GraphError::param("The parameter to is required.")),
    };
    let to =
        Wid::parse(&phone).map_err(|e| GraphError::param(format!("Invalid parameter: to: {e}")))?;
    let tracker = tracker(body)?;
    let reply_to = str_at(body, "context.message_id").map(String::from);
    let kind = str_at(body, "type").unwrap_or("text");
    let plain = |text: String| SendRequest {
        reply_to: reply_to.clone(),
        ..SendRequest::text(to.clone(), text)
    };
    let send = match kind {
        "text" => {
            let text = str_at(body, "text.body")
                .ok_or_else(|| GraphError::param("The parameter text['body'] is required."))?;
            plain(text.to_string())
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            let m = &body[kind];
            let source = media_source(kind, m)?;
            SendRequest {
                mentions: vec![],
                style: None,
                special: None,
                // A voice note (OGG/OPUS), as Meta sends `audio.voice`.
                voice: kind == "audio" && m["voice"] == true,
                to: to.clone(),
                text: None,
                media: Some(OutgoingMedia {
                    source,
                    mimetype: (kind == "sticker").then(|| "image/webp".to_string()),
                    filename: m.get("filename").and_then(Value::as_str).map(String::from),
                    sticker: kind == "sticker",
                    // As Meta sends it: a file to download, whatever it is.
                    document: kind == "document",
                    view_once: false,
                    gif: false,
                }),
                caption: m.get("caption").and_then(Value::as_str).map(String::from),
                reply_to: reply_to.clone(),
                menu: None,
            }
        }
        "location" => {
            let l = &body["location"];
            // Meta documents the coordinates as strings; clients send either.
            let coord = |v: &Value| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|f: &f64| f.is_finite())
            };
            let (Some(lat), Some(lng)) = (coord(&l["latitude"]), coord(&l["longitude"])) else {
                return Err(GraphError::param(
                    "The parameters location['latitude'] and ['longitude'] are required: numbers, or numbers as strings.",
                ));
            };
            let text = |k: &str| l[k].as_str().filter(|s| !s.is_empty()).map(String::from);
            let mut s = plain(String::new());
            s.text = None;
            s.special = Some(Special::Location(Location {
                lat,
                lng,
                name: text("name"),
                address: text("address"),
            }));
            s
        }
        "contacts" => {
            let mut cards = vec![];
            for c in body["contacts"].as_array().into_iter().flatten() {
                let name = str_at(c, "name.formatted_name").ok_or_else(|| {
                    GraphError::param(
                        "The parameter contacts['name']['formatted_name'] is required.",
                    )
                })?;
                let phone = c["phones"]
                    .as_array()
                    .and_then(|p| p.first())
                    .and_then(|p| p["wa_id"].as_str().or(p["phone"].as_str()))
                    .ok_or_else(|| {
                        GraphError::param("The parameter contacts['phones'] is required.")
                    })?;
                let id = Wid::parse(phone)
                    .map_err(|e| GraphError::param(format!("Invalid contacts phone: {e}")))?;
                cards.push(CardOf {
                    id,
                    name: name.to_string(),
                });
            }
            if cards.is_empty() {
                return Err(GraphError::param("The parameter contacts is required."));
            }
            let mut s = plain(String::new());
            s.text = None;
            s.special = Some(Special::Contacts(cards));
            s
        }
        "reaction" => {
            let message_id = str_at(body, "reaction.message_id").ok_or_else(|| {
                GraphError::param("The parameter reaction['message_id'] is required.")
            })?;
            let emoji = body["reaction"]["emoji"].as_str().unwrap_or("");
            return Ok(Request::React {
                input,
                to,
                message_id: message_id.to_string(),
                emoji: emoji.to_string(),
            });
        }
        "interactive" => {
            let (text, menu) = interactive(&body["interactive"])?;
            let mut s = plain(text);
            s.menu = Some(menu);
            // A picture, video or document header: the menu is its caption.
            let h = &body["interactive"]["header"];
            if let Some(k @ ("image" | "video" | "document")) = h["type"].as_str() {
                s.media = Some(OutgoingMedia {
                    source: media_source(k, &h[k])?,
                    mimetype: None,
                    filename: h[k]["filename"].as_str().map(String::from),
                    sticker: false,
                    document: k == "document",
                    view_once: false,
                    gif: false,
                });
                s.caption = s.text.take();
            }
            s
        }
        "template" => {
            let name = str_at(body, "template.name")
                .ok_or_else(|| GraphError::param("The parameter template['name'] is required."))?;
            let mut params = vec![];
            for c in body["template"]["components"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let kind = c["type"].as_str().unwrap_or("");
                let given = c["parameters"].as_array().into_iter().flatten();
                if kind.eq_ignore_ascii_case("body") {
                    for p in given {
                        params.push(TemplateParam {
                            name: p["parameter_name"].as_str().map(str::to_string),
                            text: template_param(p)?,
                        });
                    }
                } else if given.count() > 0 {
                    // Sent without them, the message would not be the one
                    // asked for.
                    return Err(GraphError::new(
                        StatusCode::BAD_REQUEST,
                        132000,
                        format!(
                            "Number of parameters does not match the expected number of params: a template here has a body only, so a {kind} component's parameters have nowhere to go"
                        ),
                    ));
                }
            }
            return Ok(Request::Template {
                input,
                to,
                name: name.to_string(),
                params,
                reply_to,
                tracker,
            });
        }
        other => {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                131051,
                format!(
                    "Unsupported message type: {other} (wabridge sends text, image, video, audio, document, sticker, location, contacts, reaction, interactive and template)"
                ),
            ));
        }
    };
    Ok(Request::Send {
        input,
        to,
        send,
        tracker,
    })
}

/// `biz_opaque_callback_data`, as Meta takes it: a string of at most 512
/// characters (an empty one is none).
fn tracker(body: &Value) -> Result<Option<String>, GraphError> {
    match body.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 512 => {
            Ok(Some(s.clone()).filter(|s| !s.is_empty()))
        }
        Some(Value::String(_)) => Err(GraphError::param(
            "Invalid parameter: biz_opaque_callback_data must be at most 512 characters",
        )),
        Some(_) => Err(GraphError::param(
            "Invalid parameter: biz_opaque_callback_data must be a string",
        )),
    }
}

/// A body parameter of a template as the text it stands for: `text` as
/// is; `currency` and `date_time` by their `fallback_value`, the text Meta
/// itself shows where it cannot localize them.
/// A template's body parameter: by its place (`{{1}}`), or by its name
/// (`parameter_name`, for `{{first_name}}`).
pub struct TemplateParam {
    pub name: Option<String>,
    pub text: String,
}

fn template_param(p: &Value) -> Result<String, GraphError> {
    let kind = p["type"].as_str().unwrap_or("text");
    let text = match kind {
        "text" => p["text"].as_str(),
        "currency" | "date_time" => p[kind]["fallback_value"].as_str(),
        other => {
            return Err(GraphError::param(format!(
                "Invalid parameter: a template's body parameter cannot be of type '{other}' (text, currency, date_time)"
            )));
        }
    };
    text.map(String::from).ok_or_else(|| {
        let field = if kind == "text" {
            "text"
        } else {
            "fallback_value"
        };
        GraphError::param(format!(
            "The parameter {kind}['{field}'] of a template's body parameter is required."
        ))
    })
}

/// An interactive `button` or `list` message as a numbered text menu.
pub fn interactive(i: &Value) -> Result<(String, Menu), GraphError> {
    let kind = match i["type"].as_str() {
        Some("button") => MenuKind::Button,
        Some("list") => MenuKind::List,
        other => {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                131051,
                format!(
                    "Unsupported interactive type: {} (wabridge sends button and list menus)",
                    other.unwrap_or("none")
                ),
            ));
        }
    };
    let body = i["body"]["text"].as_str().ok_or_else(|| {
        GraphError::param("The parameter interactive['body']['text'] is required.")
    })?;
    let mut options: Vec<(String, String, Option<String>)> = vec![];
    match kind {
        MenuKind::Button => {
            for b in i["action"]["buttons"].as_array().into_iter().flatten() {
                let (Some(id), Some(title)) =
                    (b["reply"]["id"].as_str(), b["reply"]["title"].as_str())
                else {
                    return Err(GraphError::param(
                        "Each button needs reply.id and reply.title.",
                    ));
                };
                options.push((id.into(), title.into(), None));
            }
            if !(1..=3).contains(&options.len()) {
                return Err(GraphError::param(
                    "Invalid parameter: a button message has 1 to 3 buttons.",
                ));
            }
        }
        MenuKind::List => {
            for s in i["action"]["sections"].as_array().into_iter().flatten() {
                for r in s["rows"].as_array().into_iter().flatten() {
                    let (Some(id), Some(title)) = (r["id"].as_str(), r["title"].as_str()) else {
                        return Err(GraphError::param("Each list row needs id and title."));
                    };
                    options.push((
                        id.into(),
                        title.into(),
                        r["description"].as_str().map(String::from),
                    ));
                }
            }
            if !(1..=10).contains(&options.len()) {
                return Err(GraphError::param(
                    "Invalid parameter: a list message has 1 to 10 rows.",
                ));
            }
        }
    }
    let mut text = String::new();
    if let Some(h) = i["header"]["text"].as_str() {
        text.push_str(&format!("*{h}*\n"));
    }
    text.push_str(body);
    text.push('\n');
    for (n, (_, title, desc)) in options.iter().enumerate() {
        text.push_str(&format!("\n{}. {title}", n + 1));
        if let Some(d) = desc {
            text.push_str(&format!(" ({d})"));
        }
    }
    if let Some(f) = i["footer"]["text"].as_str() {
        text.push_str(&format!("\n\n_{f}_"));
    }
    text.push_str("\n\nReply with a number.");
    let descriptions = match options.iter().any(|o| o.2.is_some()) {
        true => options.iter().map(|o| o.2.clone()).collect(),
        false => vec![],
    };
    let menu = Menu {
        kind,
        descriptions,
        options: options.into_iter().map(|(id, t, _)| (id, t)).collect(),
        message_id: None,
        sent_at: 0,
    };
    Ok((text, menu))
}

/// Where a media object's bytes come from: a `link` to fetch, or the `id`
/// of an upload, one of them.
fn media_source(kind: &str, m: &Value) -> Result<MediaSource, GraphError> {
    match (
        m.get("link").and_then(Value::as_str),
        m.get("id").and_then(Value::as_str),
    ) {
        (Some(link), None) => Ok(MediaSource::url(link)),
        (None, Some(id)) => Ok(MediaSource::Upload(id.to_string())),
        (Some(_), Some(_)) => Err(GraphError::param(format!(
            "Invalid parameter: {kind} takes 'link' or 'id', not both"
        ))),
        (None, None) => Err(GraphError::param(format!(
            "The parameter {kind}['link'] or {kind}['id'] is required."
        ))),
    }
}

/// A registered template's body with `{{1}}`, `{{2}}`, ... filled in.
pub fn render_template(body: &str, params: &[TemplateParam]) -> Result<String, GraphError> {
    let mismatch = |why: String| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            132000,
            format!("Number of parameters does not match the expected number of params: {why}"),
        )
    };
    let by_place: Vec<&str> = params
        .iter()
        .filter(|p| p.name.is_none())
        .map(|p| p.text.as_str())
        .collect();
    let mut named_used = vec![false; params.len()];
    let mut out = String::new();
    let mut rest = body;
    let mut used = 0usize;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let slot = after[..j].trim();
        let is_name = !slot.is_empty()
            && slot.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && slot
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let value = match slot.parse::<usize>() {
            Ok(n) if n >= 1 => {
                used = used.max(n);
                Some(*by_place.get(n - 1).ok_or_else(|| {
                    mismatch(format!(
                        "the template needs {{{{{n}}}}}, {} given",
                        by_place.len()
                    ))
                })?)
            }
            _ if is_name => {
                let k = params
                    .iter()
                    .position(|p| p.name.as_deref() == Some(slot))
                    .ok_or_else(|| {
                        mismatch(format!("the template needs {{{{{slot}}}}}, not given"))
                    })?;
                named_used[k] = true;
                Some(params[k].text.as_str())
            }
            _ => None,
        };
        match value {
            Some(v) => {
                out.push_str(v);
                // Bounded as it grows: a long parameter used many times
                // would otherwise be copied far past any message.
                if out.len() > crate::core::MAX_TEXT {
                    return Err(GraphError::new(
                        StatusCode::BAD_REQUEST,
                        132005,
                        format!(
                            "Translated text too long: the template's text with its parameters passes {} bytes",
                            crate::core::MAX_TEXT
                        ),
                    ));
                }
            }
            None => out.push_str(&rest[i..i + 2 + j + 2]),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    if by_place.len() > used {
        return Err(mismatch(format!(
            "{used} expected, {} given",
            by_place.len()
        )));
    }
    if let Some(p) = params
        .iter()
        .zip(&named_used)
        .find(|(p, used)| p.name.is_some() && !**used)
    {
        return Err(mismatch(format!(
            "the template has no {{{{{}}}}}",
            p.0.name.as_deref().unwrap_or_default()
        )));
    }
    Ok(out)
}

pub fn sent(input: &str, phone: &str, user_id: &str, id: &str) -> Value {
    json!({"messaging_product": "whatsapp",
           "contacts": [{"input": input, "wa_id": phone, "user_id": user_id}],
           "messages": [{"id": id, "message_status": "accepted"}]})
}

// ---- webhooks

/// A chat as Cloud bodies name it: a person by `phone_or_lid`, a group by
/// its whole id (`…@g.us`). Not bare digits: clients such as pywa take
/// digits for a phone and would send to the group as to a person.
pub fn chat_id(wid: &str) -> &str {
    if wid.ends_with("@g.us") {
        wid
    } else {
        phone_or_lid(wid)
    }
}

/// A `to` that can only be a group: `…@g.us`, or more digits than a phone
/// number has (15), alone or as an old group's `<creator>-<time>`.
fn is_group_id(to: &str) -> bool {
    let to = to.trim();
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    let long = |n: usize| n > 15;
    to.ends_with("@g.us")
        || (digits(to) && long(to.len()))
        || to
            .split_once('-')
            .is_some_and(|(a, b)| digits(a) && digits(b) && long(a.len() + b.len()))
}

/// Meta's envelope around one value.
pub fn envelope(session: &SessionId, me: &str, value: Value) -> Value {
    let mut v = value;
    v["messaging_product"] = json!("whatsapp");
    v["metadata"] = json!({"display_phone_number": me, "phone_number_id": session});
    json!({"object": "whatsapp_business_account",
           "entry": [{"id": session, "changes": [{"field": "messages", "value": v}]}]})
}

fn cloud_type(kind: &str) -> &str {
    crate::domain::message::business_type(kind).unwrap_or("unsupported")
}

/// A vCard as a Cloud API contact: its formatted name and phones.
pub fn vcard_contact(v: &str) -> Value {
    let mut name = String::new();
    let mut phones = vec![];
    for line in v.lines() {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        let upper = key.to_ascii_uppercase();
        if upper == "FN" || upper.starts_with("FN;") {
            name = value.trim().to_string();
        } else if upper.starts_with("TEL") {
            let wa_id = key
                .split(';')
                .find_map(|p| p.strip_prefix("waid=").or(p.strip_prefix("WAID=")))
                .map(String::from);
            let mut phone = json!({"phone": value.trim(), "type": "CELL"});
            if let Some(w) = wa_id {
                phone["wa_id"] = json!(w);
            }
            phones.push(phone);
        }
    }
    json!({"name": {"formatted_name": name, "first_name": name}, "phones": phones})
}

/// An inbound message as Cloud's `messages[0]` with its contact.
pub fn inbound(session: &SessionId, p: &Value, users: &UserIds) -> Value {
    let s = |k: &str| p[k].as_str().unwrap_or("");
    let phone = sender_of(p);
    let me = user_of(s("to")).to_string();
    // A view-once photo, video or voice note: its media is the receiver's phone's
    // only, and the Cloud API hands on none of it.
    let kind = match p["view_once"].as_bool() {
        Some(true) => "view_once",
        _ => s("type"),
    };
    let mut m = json!({"from": phone, "id": s("id"), "timestamp": p["timestamp"].as_i64().unwrap_or(0).to_string(), "type": cloud_type(kind)});
    match kind {
        "text" => m["text"] = json!({"body": s("text")}),
        "location" => {
            let l = &p["location"];
            let mut loc = json!({"latitude": l["lat"], "longitude": l["lng"]});
            for k in ["name", "address"] {
                if let Some(v) = l[k].as_str() {
                    loc[k] = json!(v);
                }
            }
            m["location"] = loc;
        }
        "contact" => {
            let cards = p["vcards"].as_array().into_iter().flatten();
            m["contacts"] =
                Value::Array(cards.filter_map(Value::as_str).map(vcard_contact).collect());
        }
        "image" | "video" | "audio" | "ptt" | "document" | "sticker" => {
            let mut media = json!({"id": message_media_id(session, s("id")),
                                   "mime_type": p["media"]["mimetype"].as_str().unwrap_or("application/octet-stream"),
                                   "sha256": p["media"]["sha256"].as_str().unwrap_or("")});
            if let Some(c) = p["caption"].as_str() {
                media["caption"] = json!(c);
            }
            if let Some(f) = p["media"]["filename"].as_str() {
                media["filename"] = json!(f);
            }
            if kind == "ptt" {
                media["voice"] = json!(true);
            }
            m[cloud_type(kind)] = media;
        }
        _ => m["unsupported"] = json!({"type": kind}),
    }
    if let Some(c) = p.get("choice").filter(|c| c.is_object()) {
        let (t, key) = if c["kind"] == "list" {
            ("list_reply", "list_reply")
        } else {
            ("button_reply", "button_reply")
        };
        m["type"] = json!("interactive");
        let mut reply = json!({"id": c["id"], "title": c["title"]});
        if let Some(d) = c["description"].as_str() {
            reply["description"] = json!(d);
        }
        m["interactive"] = json!({"type": t, key: reply});
        m.as_object_mut().map(|o| o.remove("text"));
    }
    // A reply (or a menu pick) names the message it answers.
    let answers = p["reply_to"]
        .as_str()
        .or(p["choice"]["menu_message"].as_str());
    if let Some(r) = answers {
        // `from`: who wrote the message answered (a menu is ours).
        let by = crate::domain::quoted_author(p).unwrap_or_else(|| me.clone());
        m["context"] = json!({"from": by, "id": r});
    }
    // Cloud marks what reached the business forwarded, and forwarded
    // many times.
    if p["forwarded"].as_bool() == Some(true) {
        let many = p["forwarding_score"].as_u64().unwrap_or(0)
            >= u64::from(crate::domain::message::FREQUENTLY_FORWARDED);
        // Meta names only what is true.
        let fields = match many {
            true => json!({"forwarded": true, "frequently_forwarded": true}),
            false => json!({"forwarded": true}),
        };
        match m["context"].as_object_mut() {
            Some(c) => c.extend(fields.as_object().cloned().unwrap_or_default()),
            None => m["context"] = fields,
        }
    }
    // In a group (Meta's Groups API): the group, to answer in it; `from`
    // is the member who wrote.
    if s("chat").ends_with("@g.us") {
        m["group_id"] = json!(s("chat"));
    }
    let contact = json!({"profile": {"name": p["sender"]["name"].as_str().unwrap_or(&phone)},
                         "wa_id": phone, "user_id": users.user_id(session, &phone)});
    envelope(
        session,
        &me,
        json!({"contacts": [contact], "messages": [m]}),
    )
}

/// A contact's reaction as Cloud's `messages[0]` of type `reaction` (no
/// `emoji` when it was taken back).
pub fn reaction(session: &SessionId, p: &Value, me: &str, users: &UserIds) -> Value {
    // By the sender's phone where WhatsApp Web knows it, as their messages
    // are told: one person, one `from` and `user_id`.
    let phone = match p["sender_phone"].as_str().filter(|s| !s.is_empty()) {
        Some(phone) => phone.to_string(),
        None => phone_or_lid(p["sender"].as_str().unwrap_or("")).to_string(),
    };
    let mut r = json!({"message_id": p["message"]});
    if let Some(e) = p["emoji"].as_str().filter(|e| !e.is_empty()) {
        r["emoji"] = json!(e);
    }
    let mut m = json!({"from": phone, "id": p["id"], "timestamp": p["timestamp"].as_i64().unwrap_or(0).to_string(),
                   "type": "reaction", "reaction": r});
    // In a group, as its messages: the group, with `from` the member.
    if let Some(g) = p["chat"].as_str().filter(|c| c.ends_with("@g.us")) {
        m["group_id"] = json!(g);
    }
    let contact = json!({"profile": {"name": phone}, "wa_id": phone, "user_id": users.user_id(session, &phone)});
    envelope(session, me, json!({"contacts": [contact], "messages": [m]}))
}

/// A contact's edit (`type: edit`, the message as it is now) or delete for
/// everyone (`type: revoke`) as Meta tells them: a message of their own,
/// `id` the event's, naming the message it changes.
pub fn amended(ev: &crate::domain::Event, users: &UserIds) -> Value {
    let p = &ev.payload;
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let (id, chat) = (s(&p["id"]), s(&p["chat"]));
    let stored = &p["message"];
    // Who wrote it: the stored message's sender, else the chat (a group's
    // message id ends with its author).
    let phone = if stored.is_object() {
        sender_of(stored)
    } else if chat.ends_with("@g.us") {
        phone_or_lid(id.rsplit('_').next().unwrap_or("")).to_string()
    } else {
        phone_or_lid(&chat).to_string()
    };
    let name = stored["sender"]["name"]
        .as_str()
        .unwrap_or(&phone)
        .to_string();
    let mut m = json!({"from": phone, "id": ev.id, "timestamp": (ev.timestamp / 1000).to_string()});
    if ev.event == crate::domain::EventKind::MessageEdited {
        m["type"] = json!("edit");
        m["edit"] = json!({"original_message_id": id,
                           "message": {"type": "text", "text": {"body": p["text"]}}});
    } else {
        m["type"] = json!("revoke");
        m["revoke"] = json!({"original_message_id": id});
    }
    if chat.ends_with("@g.us") {
        m["group_id"] = json!(chat);
    }
    let me = user_of(p["me"].as_str().unwrap_or("")).to_string();
    let contact = json!({"profile": {"name": name}, "wa_id": phone, "user_id": users.user_id(&ev.session, &phone)});
    envelope(
        &ev.session,
        &me,
        json!({"contacts": [contact], "messages": [m]}),
    )
}

/// An ack as Cloud's `statuses[0]`, with the contact (clients need it).
pub fn status(session: &SessionId, p: &Value, at_ms: i64, users: &UserIds) -> Value {
    let phone = chat_id(p["chat"].as_str().unwrap_or("")).to_string();
    let me = user_of(p["me"].as_str().unwrap_or("")).to_string();
    let st = match p["ack"].as_str().unwrap_or("") {
        "delivered" => "delivered",
        "read" => "read",
        // A voice note played: Meta's own status for it.
        "played" => "played",
        "failed" => "failed",
        _ => "sent",
    };
    let user_id = users.user_id(session, &phone);
    // A message to a group: `recipient_id` is the group, and the status is
    // the message's own (delivered once every member has it, read once all
    // have read it). Not `recipient_type: group`: Meta sends those one per
    // member, naming the member (`recipient_participant_user_id`), and
    // clients read them so (pywa drops one without a member); WhatsApp Web
    // reports a group message's receipts per member in no event.
    let mut status = json!({"id": p["id"], "status": st, "timestamp": (at_ms / 1000).to_string(),
                            "recipient_id": phone, "recipient_user_id": user_id});
    if let Some(t) = p["tracker"].as_str() {
        status["biz_opaque_callback_data"] = json!(t);
    }
    if st == "failed" {
        status["errors"] = json!([{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
                                   "error_data": {"details": "WhatsApp reported the message as failed"}}]);
    }
    let contact = json!({"profile": {"name": phone}, "wa_id": phone, "user_id": user_id});
    envelope(
        session,
        &me,
        json!({"contacts": [contact], "statuses": [status]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracker_is_taken_as_meta_bounds_it_and_told_with_statuses() {
        let (s, users) = (SessionId::parse("s").unwrap(), UserIds::new([7; 32]));
        let body = |t: Value| {
            json!({"messaging_product": "whatsapp", "to": "15551234567", "text": {"body": "x"},
                   "biz_opaque_callback_data": t})
        };
        let tracker_of = |t: Value| match request(&body(t), &s, &users) {
            Ok(Request::Send { tracker, .. }) => Ok(tracker),
            Ok(_) => panic!("not a send"),
            Err(e) => Err(e.message),
        };
        assert_eq!(tracker_of(json!("a")), Ok(Some("a".into())));
        assert_eq!(tracker_of(json!("")), Ok(None));
        assert_eq!(tracker_of(Value::Null), Ok(None));
        assert_eq!(
            tracker_of(json!("é".repeat(512))).map(|t| t.map(|t| t.chars().count())),
            Ok(Some(512))
        );
        for bad in [json!("x".repeat(513)), json!(1), json!(["a"])] {
            assert!(
                tracker_of(bad)
                    .unwrap_err()
                    .contains("biz_opaque_callback_data")
            );
        }
        let ack = |extra: Option<&str>| {
            let mut p =
                json!({"id": "m", "chat": "15551234567@c.us", "ack": "read", "me": "1@c.us"});
            if let Some(t) = extra {
                p["tracker"] = json!(t);
            }
            status(&s, &p, 0, &users)["entry"][0]["changes"][0]["value"]["statuses"][0].clone()
        };
        assert_eq!(
            ack(Some("order-42"))["biz_opaque_callback_data"],
            "order-42"
        );
        assert!(ack(None).get("biz_opaque_callback_data").is_none());
    }

    #[test]
    fn a_vcard_as_a_cloud_contact() {
        let c = vcard_contact(
            "BEGIN:VCARD\nVERSION:3.0\nN:;Bob;;;\nFN:Bob Builder\nTEL;type=CELL;waid=15550007777:+1 555 000 7777\nEND:VCARD",
        );
        assert_eq!(c["name"]["formatted_name"], "Bob Builder");
        assert_eq!(
            c["phones"][0],
            json!({"phone": "+1 555 000 7777", "type": "CELL", "wa_id": "15550007777"})
        );
    }

    #[test]
    fn a_clusters_peers_give_a_contact_one_user_id_and_read_their_own_older_ones() {
        let s = SessionId::parse("shop").unwrap();
        let (a, b) = ([1; 32], [2; 32]);
        let (pa, pb) = (
            UserIds::shared(b"the cluster key!", a),
            UserIds::shared(b"the cluster key!", b),
        );
        let id = pa.user_id(&s, "15551234567");
        assert_eq!(pb.user_id(&s, "15551234567"), id);
        assert_eq!(pb.phone(&s, &id).as_deref(), Some("15551234567"));
        // Given by peer a before the cluster: a still reads it, b does not.
        let old = UserIds::new(a).user_id(&s, "15551234567");
        assert_ne!(old, id);
        assert_eq!(pa.phone(&s, &old).as_deref(), Some("15551234567"));
        assert_eq!(pb.phone(&s, &old), None);
    }

    #[test]
    fn a_to_that_can_only_be_a_group_is_one() {
        assert!(is_group_id("120363000000000001@g.us") && is_group_id("120363000000000001"));
        assert!(is_group_id("15551234567-1600000000"));
        assert!(!is_group_id("15551234567") && !is_group_id("1555-1234567"));
        assert!(!is_group_id("+1 555 123 4567") && !is_group_id("123456789012345"));
    }

    #[test]
    fn a_groups_message_and_reaction_name_the_group() {
        let u = UserIds::new([7; 32]);
        let s = SessionId::parse("a").unwrap();
        let msg = json!({"id": "false_120363000000000001@g.us_M_15550002222@c.us", "chat": "120363000000000001@g.us",
            "from": "15550002222@c.us", "to": "15550001111@c.us", "type": "text", "text": "hi",
            "timestamp": 1, "sender": {"phone": "15550002222", "name": "Bob"}});
        let m = &inbound(&s, &msg, &u)["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(
            (&m["from"], &m["group_id"]),
            (&json!("15550002222"), &json!("120363000000000001@g.us"))
        );
        let r = json!({"id": "R1", "message": "M", "chat": "120363000000000001@g.us", "sender": "15550002222@c.us",
            "emoji": "👍", "from_me": false, "timestamp": 2});
        let m =
            &reaction(&s, &r, "15550001111", &u)["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(
            (&m["from"], &m["group_id"]),
            (&json!("15550002222"), &json!("120363000000000001@g.us"))
        );
        // Our message's status in the group: the message's own, to the
        // group (no member named, so not Meta's per-member kind), with the
        // contact's user id that pywa reads from every status.
        let ack = json!({"id": "true_120363000000000001@g.us_M", "chat": "120363000000000001@g.us",
            "ack": "read", "me": "15550001111@c.us"});
        let v = &status(&s, &ack, 3000, &u)["entry"][0]["changes"][0]["value"];
        let st = &v["statuses"][0];
        assert_eq!(
            (&st["recipient_id"], &st["status"]),
            (&json!("120363000000000001@g.us"), &json!("read"))
        );
        assert!(st.get("recipient_type").is_none(), "{st}");
        assert!(
            v["contacts"][0]["user_id"]
                .as_str()
                .is_some_and(|u| u.starts_with("US.")),
            "{v}"
        );
        // By a privacy id whose phone WhatsApp Web knows: the phone, as
        // their messages are told.
        let r = json!({"id": "R3", "message": "M", "chat": "120363000000000001@g.us", "sender": "555@lid",
            "sender_phone": "15550002222", "emoji": "👍", "from_me": false, "timestamp": 2});
        let v = &reaction(&s, &r, "15550001111", &u)["entry"][0]["changes"][0]["value"];
        assert_eq!(
            (&v["messages"][0]["from"], &v["contacts"][0]["wa_id"]),
            (&json!("15550002222"), &json!("15550002222"))
        );
        // A private chat's reaction names no group.
        let r = json!({"id": "R2", "message": "M", "chat": "15550002222@c.us", "sender": "15550002222@c.us",
            "emoji": "👍", "from_me": false, "timestamp": 2});
        let m =
            &reaction(&s, &r, "15550001111", &u)["entry"][0]["changes"][0]["value"]["messages"][0];
        assert!(m.get("group_id").is_none(), "{m}");
    }

    #[test]
    fn versions_user_ids_media_ids() {
        assert!(
            is_version("v21.0")
                && is_version("v17")
                && !is_version("21.0")
                && !is_version("v2x")
                && !is_version("session")
        );
        let u = UserIds::new([7; 32]);
        let (a, b) = (
            SessionId::parse("a").unwrap(),
            SessionId::parse("b").unwrap(),
        );
        let id = u.user_id(&a, "15551234567");
        assert!(id.starts_with("US.") && id[3..].bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(u.user_id(&a, "15551234567"), id);
        assert_ne!(u.user_id(&b, "15551234567"), id);
        assert_eq!(u.phone(&a, &id).as_deref(), Some("15551234567"));
        // Ids never given out decode to nothing: not to some stranger's number.
        let mut last = id.clone();
        let d = last.pop().unwrap();
        last.push(if d == '0' { '1' } else { '0' });
        for forged in ["US.1", "US.324270819542170", last.as_str(), "US.", "US.-5"] {
            assert_eq!(u.phone(&a, forged), None, "{forged}");
        }
        assert_eq!(u.phone(&b, &id), None, "another session's id");
        // Each group its own id, which decodes to no one.
        let (g1, g2) = (
            u.user_id(&a, "120363000000000001@g.us"),
            u.user_id(&a, "120363000000000002@g.us"),
        );
        assert_ne!(g1, g2);
        assert_eq!((u.phone(&a, &g1), u.phone(&a, &g2)), (None, None));
        assert_eq!(
            u.phone(&b, &u.user_id(&b, "4915112345678")).as_deref(),
            Some("4915112345678")
        );
        // A sender known only by its privacy id decodes to that id, not to
        // a phone number made of its digits.
        let lid = u.user_id(&a, "107005456359612@lid");
        assert_ne!(lid, u.user_id(&a, "107005456359612"));
        assert_eq!(u.phone(&a, &lid).as_deref(), Some("107005456359612@lid"));
        let hidden = json!({"id": "false_107005456359612@lid_X", "chat": "107005456359612@lid",
            "from": "107005456359612@lid", "to": "15550001111@c.us", "type": "text", "text": "hi",
            "timestamp": 1, "sender": {"phone": null, "lid": "107005456359612@lid", "name": "Hidden"}});
        let m = inbound(&a, &hidden, &u);
        let v = &m["entry"][0]["changes"][0]["value"];
        assert_eq!(v["messages"][0]["from"], "107005456359612@lid", "{m}");
        assert_eq!(v["contacts"][0]["user_id"], lid.as_str());
        // ...and a reply to `from`, or to the user id, goes to that id.
        // (pywa says `recipient_type: group` for any id it cannot read as
        // a phone or a user id, so for a privacy id too.)
        for to in [
            json!({"to": "107005456359612@lid"}),
            json!({"to": "107005456359612@lid", "recipient_type": "group"}),
            json!({"recipient": lid}),
        ] {
            let mut body =
                json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hello"}});
            body.as_object_mut()
                .unwrap()
                .extend(to.as_object().unwrap().clone());
            match request(&body, &a, &u) {
                Ok(Request::Send { to, .. }) => assert_eq!(to.as_str(), "107005456359612@lid"),
                _ => panic!("{body}: not a send"),
            }
        }
        let m = message_media_id(&a, "false_1@c.us_X");
        assert!(m.bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(
            short_of_media_id(&m).unwrap(),
            Message::short_id(&a, "false_1@c.us_X")
        );
    }

    #[test]
    fn permission_denied_reads_as_graph_writes_it() {
        let e = GraphError::from(CoreError::Forbidden {
            code: "session_forbidden",
            message: "this API key may not use session 'b'".into(),
        });
        let msg = e.body()["error"]["message"].as_str().unwrap().to_string();
        assert_eq!((e.status.as_u16(), e.code), (403, 10));
        assert!(
            msg.starts_with("(#10) Permission denied: ") && !msg.contains("(#10) (#10)"),
            "{msg}"
        );
    }

    #[test]
    fn location_coordinates_as_numbers_or_strings() {
        let (s, u) = (SessionId::parse("a").unwrap(), UserIds::new([7; 32]));
        let at = |lat: Value, lng: Value| {
            let body = json!({"messaging_product": "whatsapp", "to": "15551234567", "type": "location",
                "location": {"latitude": lat, "longitude": lng, "name": "Office"}});
            match request(&body, &s, &u) {
                Ok(Request::Send { send, .. }) => match send.special {
                    Some(Special::Location(l)) => Ok((l.lat, l.lng)),
                    _ => panic!("not a location"),
                },
                Ok(_) => panic!("not a send"),
                Err(e) => Err(e.code),
            }
        };
        assert_eq!(at(json!(52.5), json!(13.4)), Ok((52.5, 13.4)));
        assert_eq!(
            at(json!("37.44216251868683"), json!(" -122.16153582049394")),
            Ok((37.44216251868683, -122.16153582049394))
        );
        assert_eq!(at(json!("north"), json!(13.4)), Err(100));
        assert_eq!(at(json!("NaN"), json!(13.4)), Err(100));
        assert_eq!(at(Value::Null, json!(13.4)), Err(100));
    }

    #[test]
    fn menus_and_templates() {
        let (text, menu) = interactive(&json!({"type": "button", "body": {"text": "Pick"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}, {"type": "reply", "reply": {"id": "n", "title": "No"}}]}})).unwrap();
        assert!(text.contains("1. Yes") && text.contains("2. No"));
        assert_eq!(menu.pick("2").unwrap().id, "n");
        assert_eq!(menu.pick(" yes ").unwrap().id, "y");
        assert!(menu.pick("maybe").is_none());
        // A list row's description comes back with the pick (Meta's list_reply).
        let (_, list) = interactive(&json!({"type": "list", "body": {"text": "Size?"}, "action": {"button": "Sizes",
            "sections": [{"title": "S", "rows": [{"id": "s", "title": "Small", "description": "250 ml"}, {"id": "l", "title": "Large"}]}]}})).unwrap();
        assert_eq!(
            list.pick("1").unwrap().description.as_deref(),
            Some("250 ml")
        );
        assert_eq!(list.pick("large").unwrap().description, None);
        let reply = json!({"id": "false_1@c.us_R", "chat": "15550002222@c.us", "from": "15550002222@c.us", "to": "15550001111@c.us",
            "type": "text", "text": "1", "timestamp": 1, "sender": {"phone": "15550002222", "name": "Bob"},
            "choice": serde_json::to_value(list.pick("1").unwrap()).unwrap()});
        let m = &inbound(
            &SessionId::parse("a").unwrap(),
            &reply,
            &UserIds::new([7; 32]),
        )["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(
            m["interactive"]["list_reply"]["description"], "250 ml",
            "{m}"
        );
        let param = |name: Option<&str>, text: &str| TemplateParam {
            name: name.map(String::from),
            text: text.into(),
        };
        assert_eq!(
            render_template(
                "Hi {{1}}, order {{2}} ready",
                &[param(None, "Ann"), param(None, "42")]
            )
            .unwrap(),
            "Hi Ann, order 42 ready"
        );
        assert_eq!(render_template("Hi {{1}}", &[]).err().unwrap().code, 132000);
        let long = "x".repeat(40_000);
        assert_eq!(
            render_template("{{1}} {{1}}", &[param(None, &long)])
                .err()
                .unwrap()
                .code,
            132005
        );
        // Named parameters (Meta's `parameter_name`), each needed and used.
        let named = [param(Some("first_name"), "Ann"), param(Some("order"), "42")];
        assert_eq!(
            render_template("Hi {{first_name}}, order {{ order }} ready", &named).unwrap(),
            "Hi Ann, order 42 ready"
        );
        assert_eq!(
            render_template("Hi {{first_name}}", &named)
                .err()
                .unwrap()
                .code,
            132000
        );
        assert_eq!(
            render_template("Hi {{first_name}} {{city}}", &named[..1])
                .err()
                .unwrap()
                .code,
            132000
        );
        // Header or button parameters have nowhere to go: refused, not dropped.
        let u = UserIds::new([7; 32]);
        let s = SessionId::parse("s").unwrap();
        let with = |c: Value| {
            json!({"messaging_product": "whatsapp", "to": "15551234567", "type": "template",
            "template": {"name": "t", "language": {"code": "en"}, "components": [c]}})
        };
        assert!(matches!(
            request(&with(json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x/y.png"}}]})), &s, &u),
            Err(e) if e.code == 132000
        ));
        assert!(matches!(
            request(&with(json!({"type": "body", "parameters": [{"type": "text", "text": "Ann", "parameter_name": "first_name"}]})), &s, &u),
            Ok(Request::Template { params, .. }) if params[0].name.as_deref() == Some("first_name")
        ));
        // Currency and date-time parameters stand for their fallback text.
        assert_eq!(
            template_param(&json!({"type": "text", "text": "Ann"})).unwrap(),
            "Ann"
        );
        assert_eq!(
            template_param(&json!({"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}})).unwrap(),
            "$100.99"
        );
        assert_eq!(
            template_param(
                &json!({"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}})
            )
            .unwrap(),
            "February 25, 1977"
        );
        for bad in [
            json!({"type": "currency", "currency": {"code": "USD"}}),
            json!({"type": "image", "image": {"link": "x"}}),
            json!({"type": "text"}),
        ] {
            assert_eq!(template_param(&bad).err().unwrap().code, 100, "{bad}");
        }
    }
}
