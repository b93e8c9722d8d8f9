//! Voice and video calls in the simulated WhatsApp, as far as a linked
//! device takes part: a contact's call rings on the phone and every linked
//! device at once (the offer), until one of them answers or declines it,
//! the caller hangs up, or no one answers within the ring time (missed).
//! Whichever way it ends, every device hears that it stopped ringing.
//! A blocked contact's call never rings. WhatsApp Web cannot take a call
//! itself; a device can only decline one.

use super::world::World;
use serde::Serialize;
use serde_json::{Value, json};

/// How long WhatsApp lets a call ring before it counts as missed.
pub const RING_FOR_S: u64 = 45;

/// What became of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    /// Answered on the phone.
    Accepted,
    /// Declined, on the phone or by a linked device.
    Rejected,
    /// The caller hung up before anyone answered.
    Canceled,
    /// No one answered in time.
    Missed,
}

#[derive(Clone, Debug, Serialize)]
pub struct SbCall {
    pub id: String,
    /// The caller's phone.
    pub from: String,
    /// The caller as the callee's devices see them: the phone's
    /// `…@c.us`, or a privacy id (`…@lid`); a group call's own id
    /// (`…@call`).
    pub peer: String,
    /// The account called.
    pub to: String,
    pub video: bool,
    /// A group call (the caller rings the group's members).
    pub group: bool,
    /// unix s
    pub offered_at: i64,
    pub state: CallState,
    /// Who ended the ringing: `phone`, `device`, `caller` or `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<&'static str>,
}

impl SbCall {
    /// The offer as a device receives it.
    fn offer(&self) -> Value {
        json!({"t": "call", "id": self.id, "peer": self.peer, "video": self.video,
               "group": self.group, "ts": self.offered_at})
    }
}

impl World {
    /// A contact calls an account: it rings on every device of the account
    /// that is online. `Err` when it cannot ring: an unknown account, or a
    /// contact the account blocked.
    pub fn place_call(
        &mut self,
        from: &str,
        to: &str,
        video: bool,
        group: bool,
        lid: Option<bool>,
    ) -> Result<SbCall, String> {
        if !self.p.accounts.contains_key(to) {
            return Err(format!("no account {to}"));
        }
        if self.is_blocked(to, from) {
            return Err(format!("{to} blocked {from}: the call cannot ring"));
        }
        let peer = match lid {
            // WhatsApp Web names a group call by its own id.
            _ if group => format!("{}@call", super::world::random_hex(16)),
            Some(shared) => self.lid_of(from, shared),
            None => format!("{from}@c.us"),
        };
        let call = SbCall {
            // WhatsApp's call ids: 32 hex digits.
            id: super::world::random_hex(32),
            from: from.to_string(),
            peer,
            to: to.to_string(),
            video,
            group,
            offered_at: self.now_s(),
            state: CallState::Ringing,
            ended_by: None,
        };
        self.send_account(to, &call.offer());
        self.calls.insert(call.id.clone(), call.clone());
        Ok(call)
    }

    pub fn call(&self, id: &str) -> Option<&SbCall> {
        self.calls.get(id)
    }

    /// The ringing stops: `state` says how, `by` who. Only a ringing call
    /// can end this way; every device of the account hears.
    pub fn end_call(
        &mut self,
        id: &str,
        state: CallState,
        by: &'static str,
    ) -> Result<SbCall, CallRefusal> {
        let call = self.calls.get_mut(id).ok_or(CallRefusal::NotFound)?;
        if call.state != CallState::Ringing {
            return Err(CallRefusal::NotRinging(call.state));
        }
        call.state = state;
        call.ended_by = Some(by);
        let call = call.clone();
        self.send_account(
            &call.to,
            &json!({"t": "call_end", "id": call.id, "state": state}),
        );
        Ok(call)
    }

    /// A device comes online while a call rings: it hears the offer too.
    pub(super) fn ringing_for(&self, account: &str) -> Vec<Value> {
        self.calls
            .values()
            .filter(|c| c.to == account && c.state == CallState::Ringing)
            .map(SbCall::offer)
            .collect()
    }

    /// A linked device declines a call to its account.
    pub fn device_reject_call(&mut self, me: &str, id: &str) -> Result<Value, String> {
        match self.calls.get(id) {
            Some(c) if c.to == me => {}
            _ => return Err(CallRefusal::NotFound.to_string()),
        }
        self.end_call(id, CallState::Rejected, "device")
            .map(|_| json!(true))
            .map_err(|e| e.to_string())
    }
}

pub enum CallRefusal {
    NotFound,
    NotRinging(CallState),
}

impl std::fmt::Display for CallRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallRefusal::NotFound => f.write_str("call_not_found"),
            CallRefusal::NotRinging(s) => write!(f, "call_is_not_incoming_ring ({s:?})"),
        }
    }
}
