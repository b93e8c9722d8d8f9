// wabridge's page side. Installed on every document before the page's own
// scripts. It is the only code that knows wa-js (`window.WPP`): it turns
// WPP events into bridge events, sent in batches through one CDP binding
// (`__wabridgeEmit`), and exposes the calls the daemon makes as
// `window.__wabridge`. The same file runs against real WhatsApp Web + wa-js
// and against the sandbox's WPP.
(function () {
  'use strict';
  if (window.top !== window || window.__wabridge) return;

  const queue = [];
  let flushing = false;

  // Messages that arrived in the last minute, by id: their events may not
  // be stored yet (a failed commit is retried by a catch-up, which reads
  // the page), so trimMessages keeps them whatever their timestamp (a
  // message written offline arrives with an old one).
  const arrived = new Map();
  const KEEP_ARRIVED_MS = 60000;

  // Events leave on the next task through a message channel, not a
  // timer: the daemon hides a linked page as a background tab, where
  // timers wake at most once a second and would hold every event that
  // long. Whatever is queued by then leaves in one binding call.
  const wake = typeof MessageChannel === 'function' ? new MessageChannel() : null;
  if (wake) wake.port1.onmessage = () => flush();

  function emit(ev) {
    queue.push(ev);
    if (!flushing) {
      flushing = true;
      if (wake) wake.port2.postMessage(null);
      else setTimeout(flush, 0);
    }
  }

  function flush() {
    flushing = false;
    if (typeof window.__wabridgeEmit !== 'function') {
      // The binding is added before navigation; this only guards odd frames.
      if (queue.length) { flushing = true; setTimeout(flush, 50); }
      return;
    }
    noteName();
    while (queue.length) {
      // Taken off the queue once handed over: a batch that could not be
      // serialised or handed over is not lost with it.
      const batch = queue.slice(0, 500);
      let text;
      try {
        text = JSON.stringify(batch);
      } catch (e) {
        // One event that is no JSON (a cycle) drops only itself.
        text = JSON.stringify(batch.filter((ev) => { try { JSON.stringify(ev); return true; } catch (_) { return false; } }));
      }
      try {
        window.__wabridgeEmit(text);
      } catch (e) {
        flushing = true;
        setTimeout(flush, 50);
        return;
      }
      queue.splice(0, batch.length);
    }
  }

  function widStr(w) {
    if (!w) return null;
    if (typeof w === 'string') return w;
    return w._serialized || (w.user && w.server ? w.user + '@' + w.server : String(w));
  }

  function phoneOf(w) {
    const s = widStr(w);
    return s && s.endsWith('@c.us') ? s.slice(0, -5) : null;
  }

  const TYPES = {
    chat: 'text', image: 'image', video: 'video', audio: 'audio', ptt: 'ptt',
    document: 'document', sticker: 'sticker', location: 'location',
    vcard: 'contact', multi_vcard: 'contact', poll_creation: 'poll', event_creation: 'event',
  };

  // A scheduled event as WhatsApp Web's message keeps it (wa-js writes a
  // description of one space where none was given: none).
  function scheduledEvent(m) {
    const place = m.eventLocation;
    const coords = place && (place.degreesLatitude || place.degreesLongitude);
    return {
      name: m.eventName || m.body || '', description: (m.eventDescription || '').trim() || null,
      start: Number(m.eventStartTime) || 0, end: Number(m.eventEndTime) || null,
      location: place && place.name ? { name: place.name, lat: coords ? place.degreesLatitude : null, lng: coords ? place.degreesLongitude : null } : null,
      join_link: m.eventJoinLink || null, canceled: !!m.isEventCanceled,
    };
  }

  function poll(m) {
    const options = Array.isArray(m.pollOptions) ? m.pollOptions.map((o) => o.name) : [];
    return { name: m.pollName || m.body || '', options, selectable: typeof m.pollSelectableOptionsCount === 'number' ? m.pollSelectableOptionsCount : 1 };
  }

  // A location message: WhatsApp Web keeps a named place as "name\naddress".
  function place(m) {
    const [name, ...rest] = String(m.loc || '').split('\n');
    return { lat: m.lat, lng: m.lng, name: name || null, address: rest.join('\n') || null };
  }

  function vcards(m) {
    if (Array.isArray(m.vcardList) && m.vcardList.length) return m.vcardList.map((v) => v.vcard).filter(Boolean);
    return m.body ? [m.body] : [];
  }
  // Not user messages: system notices, and ciphertext placeholders that
  // wa-js reports again once decrypted.
  const SKIP = new Set(['ciphertext', 'e2e_notification', 'notification', 'notification_template', 'group_notification',
    'broadcast_notification', 'gp2', 'protocol', 'call_log', 'revoked']);

  // A group's subject as WhatsApp Web holds it, for a message in it.
  function groupName(id) {
    try {
      const c = WPP.chat.get(id);
      return (c && ((c.groupMetadata && c.groupMetadata.subject) || c.name || c.formattedTitle)) || null;
    } catch (e) {
      return null;
    }
  }

  function savedAs(m) {
    try {
      const c = m.senderObj;
      if (!c || !c.isMyContact || typeof c.name !== 'string' || !c.name) return null;
      return { name: c.name, short_name: (typeof c.shortName === 'string' && c.shortName) || null };
    } catch (e) {
      return null;
    }
  }

  function normalize(m) {
    // (A group's own notices, gp2, are read before this: groupNotice.)
    if (!m || !m.id || SKIP.has(m.type) || m.isNotification) return null;
    const fromMe = !!m.id.fromMe;
    const chat = widStr(m.id.remote) || widStr(fromMe ? m.to : m.from);
    const type = TYPES[m.type] || 'other';
    const sender = fromMe ? widStr(m.from) : widStr(m.author) || widStr(m.from);
    const hasMedia = !['text', 'location', 'contact', 'poll', 'event', 'other'].includes(type);
    const out = {
      id: widStr(m.id),
      chat,
      chat_name: chat && chat.endsWith('@g.us') ? groupName(chat) : chat && chat.endsWith('@newsletter') ? channelName(chat) : null,
      from: widStr(m.from),
      to: widStr(m.to),
      from_me: fromMe,
      type,
      text: type === 'text' ? m.body || '' : null,
      caption: hasMedia ? m.caption || null : null,
      timestamp: m.t || Math.floor(Date.now() / 1000),
      // wa-js marks a channel post sent whatever WhatsApp said: only one
      // with a server id went.
      ack: fromMe && chat && chat.endsWith('@newsletter') && m.ack >= 1 && !m.serverId ? -1 : typeof m.ack === 'number' ? m.ack : 0,
      sender: { phone: phoneOf(sender), name: m.notifyName || null, lid: sender && sender.endsWith('@lid') ? sender : null },
      reply_to: quotedKey(m),
      quoted: quote(m),
      mentions: (m.mentionedJidList || []).map(widStr),
      // WhatsApp's forwarding score: how many times it was forwarded.
      forwarded: m.isForwarded ? Math.max(1, Number(m.forwardingScore) || 0) : 0,
      media: hasMedia ? { mimetype: m.mimetype || null, filename: m.filename || null, size: m.size || null, duration: Number(m.duration) > 0 ? Math.round(Number(m.duration)) : null } : null,
      location: type === 'location' ? place(m) : null,
      vcards: type === 'contact' ? vcards(m) : null,
      poll: type === 'poll' ? poll(m) : null,
      event: type === 'event' ? scheduledEvent(m) : null,
      edited_at: m.latestEditSenderTimestampMs ? Math.floor(m.latestEditSenderTimestampMs / 1000) : null,
      starred: !!m.star,
    };
    // A private invite to a group; its comment is its text.
    if (m.type === 'groups_v4_invite') {
      out.group_invite = { group: widStr(m.inviteGrp), code: String(m.inviteCode || ''), expires: Number(m.inviteCodeExp) || null, name: m.inviteGrpName || null };
      out.text = m.comment || null;
    }
    // The name this account saved the sender under, as WhatsApp Web shows
    // it (its MsgModel's senderObj is the sender's ContactModel): only for
    // one in the address book, as most senders are not.
    const saved = !fromMe && savedAs(m);
    if (saved) out.sender.saved = saved;
    // Only when set, as most messages are neither.
    if (hasMedia && m.isViewOnce) out.view_once = true;
    if (type === 'video' && m.isGif) out.gif = true;
    return out;
  }

  // The id of the message a reply quotes. wa-js's `quotedMsgId` getter
  // throws on a message that is no reply, so it is read only for a reply.
  function quotedKey(m) {
    if (!m.quotedStanzaID) return null;
    let key = null;
    try { key = m.quotedMsgId; } catch (e) { key = null; }
    return widStr(key) || m.quotedStanzaID;
  }

  // What a reply carries of the message it quotes (the receiver may never
  // have had that message): its type, its text, and who wrote it. A media
  // message's `body` is its thumbnail, so only a caption stands for it.
  function quote(m) {
    const q = m.quotedMsg;
    if (!q || !m.quotedStanzaID) return null;
    const type = TYPES[q.type] || 'other';
    const text = type === 'text' ? q.body : ['image', 'video', 'document'].includes(type) ? q.caption : null;
    return { type, text: text || null, from: widStr(m.quotedParticipant) };
  }

  function participant(p) {
    return { id: widStr(p.id), phone: phoneOf(p.id), admin: !!(p.isAdmin || p.isSuperAdmin), super_admin: !!p.isSuperAdmin };
  }

  function groupInfo(c) {
    const meta = c.groupMetadata || {};
    const ps = meta.participants && (Array.isArray(meta.participants) ? meta.participants : meta.participants.getModelsArray ? meta.participants.getModelsArray() : []);
    return {
      id: widStr(c.id), subject: meta.subject || c.name || c.formattedTitle || null, owner: widStr(meta.owner),
      created: typeof meta.creation === 'number' ? meta.creation : null, participants: (ps || []).map(participant),
      description: meta.desc || null, announce: !!meta.announce, restrict: !!meta.restrict,
      approval: !!meta.membershipApprovalMode,
      // Disappearing messages: how long one lasts (s; 0 off).
      ephemeral: Number(meta.ephemeralDuration ?? c.ephemeralDuration) || 0,
      community: widStr(meta.parentGroup) || null,
      community_announcements: !!(meta.defaultSubgroup || meta.groupType === 'LINKED_ANNOUNCEMENT_GROUP'),
    };
  }

  // WhatsApp pins this many chats at most.
  const MAX_PINNED = 3;

  // A message's pin in force, from WhatsApp Web's PinInChat table: an
  // unpin keeps its row (pinType 2), and an expired pin may still be there.
  // `now`: WhatsApp's clock (wa-js unixTime), which pins are stamped by.
  function livePin(row, now) {
    return row && row.pinType === 1 && row.t + row.pinExpiryDuration > now ? row : null;
  }
  // What WhatsApp Web's store finds (its stored fields), as normalized:
  // the model in memory where there is one, else a model made of the
  // fields, as wa-js makes one (getMessages). Not loaded back one by one:
  // loading a message that is not in memory loads the chat around it. A
  // privacy-id sender's phone is looked up, as for history.
  async function foundMessages(found) {
    const out = [];
    for (const f of found || []) {
      const n = normalize(WPP.whatsapp.MsgStore.get(f.id) || new WPP.whatsapp.MsgModel(f));
      if (n) out.push(n);
    }
    return Promise.all(out.map(withPhone));
  }
  // A chat named for a find: the account's, else CHAT_NOT_FOUND.
  function findChat(chat) {
    if (!chat) return undefined;
    const c = WPP.chat.get(chat);
    if (!c) throw new Error('CHAT_NOT_FOUND: this account has no chat ' + chat);
    return c.id;
  }

  // One pin or unpin through wa-js; its refusals named for the daemon.
  async function pinOnce(key, on, option) {
    let r;
    try {
      r = await WPP.chat.pinMsg(key, on, on ? option : undefined);
    } catch (e) {
      const why = String((e && e.message) || '');
      // wa-js's checks, one code for all: told apart by their words.
      if (e && /^(un)?pin_error$/.test(e.code)) {
        if (/not a member/.test(why)) throw new Error('NOT_MEMBER: ' + why);
        if (/permission/.test(why)) throw new Error('ONLY_ADMINS: ' + why);
        if (/not can be pinned/.test(why)) throw new Error('NOT_PINNABLE: ' + why);
      }
      throw e;
    }
    if (!r || r.pinned !== on) throw new Error('WhatsApp did not ' + (on ? 'pin' : 'unpin') + ' the message (' + (r && r.result) + ')');
  }
  function pinInfo(row) {
    return { id: widStr(row.parentMsgKey), by: widStr(row.sender), at: row.t, expires_at: row.t + row.pinExpiryDuration };
  }
  // wa-js mutes until a time to come; "always" is a time no one will see.
  const ALWAYS = 4102444800; // 2100-01-01
  // Until when a chat is muted: 0 not, -1 always.
  function mutedUntil(c) {
    const exp = Number(c.mute && c.mute.expiration != null ? c.mute.expiration : c.muteExpiration) || 0;
    if (exp === -1 || exp >= ALWAYS) return -1;
    return exp > Date.now() / 1000 ? exp : 0;
  }
  // A business profile as the daemon shows it (WhatsApp Web's
  // BusinessProfileModel: websites as {url}, categories by their shown
  // names); null for none.
  function businessInfo(business, own) {
    const told = business && typeof business === 'object'
      && (own || ['description', 'email', 'address', 'website'].some((k) => business[k] !== undefined));
    return told ? {
      description: business.description || null, email: business.email || null,
      website: Array.isArray(business.website) ? business.website.map((w) => (w && w.url) || String(w)) : business.website ? [String(business.website)] : [],
      address: business.address || null, categories: (business.categories || []).map((c) => (c && c.localized_display_name) || String(c)),
    } : null;
  }
  // Changes a business account's business profile: what is left out
  // stays, "" clears a text, [] the websites (wa-js takes them as URLs).
  // WhatsApp Web answers the profile it fetches after: one that does not
  // show the change is an error, not a silent success.
  async function editBusiness(b) {
    const params = {};
    for (const k of ['description', 'address', 'email', 'website']) if (b[k] != null) params[k] = b[k];
    if (!Object.keys(params).length) return;
    // wa-js rewrites the websites it is given in place (as {url}): what
    // was asked is kept apart.
    const asked = JSON.parse(JSON.stringify(params));
    const after = businessInfo((await WPP.profile.editBusinessProfile(params)) || {}, true);
    for (const [k, want] of Object.entries(asked)) {
      const got = after[k];
      const same = Array.isArray(want) ? JSON.stringify(got || []) === JSON.stringify(want) : (got || '') === want;
      if (!same) throw new Error('WhatsApp did not take the business profile\'s ' + k);
    }
  }
  function chatInfo(c) {
    const muted = mutedUntil(c);
    return {
      // WhatsApp Web counts a chat marked unread as -1.
      id: widStr(c.id), name: c.name || c.formattedTitle || null, unread: Math.max(0, c.unreadCount || 0), timestamp: c.t || null,
      archived: !!c.archive, pinned: !!c.pin, muted_until: muted || null, marked_unread: c.unreadCount === -1,
      // A business account's labels on it, by id.
      labels: Array.isArray(c.labels) ? c.labels.map(String) : [],
    };
  }

  // A WhatsApp Channel (newsletter) as the daemon shows it, from its chat.
  // WhatsApp Web's NewsletterMetadata is not typed by wa-js: each field is
  // read where WhatsApp Web keeps it, with the name wa-js's results use
  // as a second choice.
  function channelInfo(c) {
    const m = c.newsletterMetadata || {};
    const subscribers = Number(m.size != null ? m.size : m.subscribersCount);
    return {
      id: widStr(c.id), name: String(m.name || c.name || ''), description: m.description || '',
      invite: m.inviteCode || null, role: String(m.membershipType || 'guest').toLowerCase(),
      subscribers: Number.isFinite(subscribers) ? subscribers : null, created: Number(m.creationTime) || null,
      muted: mutedUntil(c) !== 0, has_picture: !!(m.picture || m.preview),
    };
  }

  function channelName(id) {
    const c = WPP.chat.get(id);
    return (c && c.newsletterMetadata && c.newsletterMetadata.name) || null;
  }

  // A picture WhatsApp serves, as the data URL wa-js takes.
  async function pictureAsDataUrl(url) {
    const r = await fetch(url, { signal: AbortSignal.timeout(10000) });
    if (!r.ok) throw new Error('picture ' + r.status);
    const blob = await r.blob();
    return await new Promise((res, rej) => {
      const fr = new FileReader();
      fr.onload = () => res(fr.result);
      fr.onerror = () => rej(fr.error);
      fr.readAsDataURL(blob);
    });
  }

  // The account's channel as soon as WhatsApp Web's list shows it as
  // `want` says (polled up to 5 s), else null.
  async function channelSoon(id, want) {
    for (let i = 0; i < 50; i++) {
      const c = WPP.chat.get(id);
      const info = c && c.isNewsletter ? channelInfo(c) : null;
      if (info && want(info)) return info;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  // The account's channel, else CHANNEL_NOT_FOUND; `owner`: one it runs,
  // else NOT_CHANNEL_ADMIN (WhatsApp lets only its admins change or post).
  function myChannel(id, owner) {
    const c = WPP.chat.get(id);
    const info = c && c.isNewsletter ? channelInfo(c) : null;
    // WhatsApp Web keeps a channel it previewed or unfollowed as a guest's.
    if (!info || info.role === 'guest') throw new Error('CHANNEL_NOT_FOUND: this account neither runs nor follows channel ' + id);
    if (owner && info.role !== 'owner' && info.role !== 'admin') throw new Error('NOT_CHANNEL_ADMIN: only the channel\'s admins may change it');
    return info;
  }

  // A contact as the daemon lists it; a privacy id's phone where WhatsApp
  // Web shows it.
  // (wa-js gives every ContactModel isMyContact, isMe and pnForLid.)
  function contactInfo(c) {
    const own = widStr(c.id);
    const lid = own.endsWith('@lid') ? own : null;
    const phone = phoneOf(own) || phoneOf(c.phoneNumber) || phoneOf(c.pnForLid);
    const saved = !!c.isMyContact;
    return {
      id: phone ? phone + '@c.us' : own, phone, lid, name: (saved && c.name) || null, short_name: (saved && c.shortName) || null,
      pushname: c.pushname || null, saved, business: !!c.isBusiness,
      blocked: WPP.blocklist.isBlocked(own) || (!!lid && !!phone && WPP.blocklist.isBlocked(phone + '@c.us')),
    };
  }
  // One person under two ids: what either knows, the saved names kept.
  function sameContact(a, b) {
    const s = a.saved ? a : b;
    return {
      id: a.phone ? a.id : b.id, phone: a.phone || b.phone, lid: a.lid || b.lid, name: s.name, short_name: s.short_name,
      pushname: a.pushname || b.pushname, saved: a.saved || b.saved, business: a.business || b.business, blocked: a.blocked || b.blocked,
    };
  }

  // A business account's label, as the daemon shows it.
  // wa-js's `color` is a number; `hexColor` the palette's #rrggbb.
  function labelInfo(l) {
    return { id: String(l.id), name: l.name || '', color: typeof l.hexColor === 'string' ? l.hexColor : null, count: typeof l.count === 'number' ? l.count : null };
  }

  // A customer note as the daemon shows it, from WhatsApp Web's NoteModel.
  function noteInfo(n) {
    if (!n) return null;
    return { id: n.id != null ? String(n.id) : null, content: String(n.content || ''), created: Number(n.createdAt) || null, modified: Number(n.modifiedAt || n.createdAt) || null };
  }

  // Notes are a business account's; wa-js says so in codes the daemon maps.
  async function notesCall(op) {
    try {
      return await op();
    } catch (e) {
      const code = e && e.code;
      if (code === 'connected_device_not_is_business') throw new Error('NOT_BUSINESS: customer notes are for WhatsApp Business accounts');
      if (code === 'chat_not_found') throw new Error('CHAT_NOT_FOUND: ' + e.message);
      if (code === 'can_not_set_notes_for_groups' || code === 'can_not_get_notes_for_groups') throw new Error('GROUP_NOTE: a group has no customer note');
      throw e;
    }
  }

  // What WhatsApp refuses of channels, in codes the daemon maps.
  async function channelCall(op) {
    try {
      return await op();
    } catch (e) {
      const code = e && e.code;
      if (code === 'newsletter_follower_limit' || code === 'newsletter_closed' || code === 'newsletter_geosuspended') throw new Error('CHANNEL_CLOSED: ' + e.message);
      if (code === 'invalid_newsletter_id') throw new Error('CHANNEL_NOT_FOUND: ' + e.message);
      // wa-js wraps any failure: WhatsApp's own status tells a channel it
      // does not have from a call that failed.
      const status = e && e.error && (e.error.status || e.error.statusCode);
      if ((code === 'newsletter_follow_failed' || code === 'newsletter_unfollow_failed') && (status === 404 || status === 400)) throw new Error('CHANNEL_NOT_FOUND: ' + e.message);
      throw e;
    }
  }

  // Labels are a business account's; wa-js says so in codes the daemon
  // maps by prefix (409, 404, 422).
  async function asBusiness(op) {
    if (!WPP.profile.isBusiness()) throw new Error('NOT_BUSINESS: labels are for WhatsApp Business accounts');
    try {
      return await op();
    } catch (e) {
      const code = e && e.code;
      if (code === 'is_not_business') throw new Error('NOT_BUSINESS: labels are for WhatsApp Business accounts');
      if (code === 'label_not_exist' || code === 'canot_get_label_error') throw new Error('LABEL_NOT_FOUND: ' + e.message);
      if (code === 'color_not_in_pallet') throw new Error('BAD_COLOR: the colour is not in WhatsApp\'s label palette');
      if (code === 'chat_not_found') throw new Error('CHAT_NOT_FOUND: ' + e.message);
      throw e;
    }
  }

  // The notices of a change to a group's info, by WhatsApp Web's subtype.
  // Only a new subject is in the notice's body: the rest is read from the
  // group's metadata, which WhatsApp Web keeps current. The notice keeps
  // its place among the messages while that is read.
  const GROUP_NOTICES = ['subject', 'description', 'announce', 'restrict', 'picture', 'membership_approval_request'];
  function groupNotice(m) {
    const group = widStr(m.from || (m.id && m.id.remote));
    // Someone asks to join a group whose admins approve who joins (only
    // admins hear of it); its author is who asks.
    if (m.subtype === 'membership_approval_request') {
      emitInOrder({ type: 'membership_request', id: widStr(m.id), group, requester: widStr(m.author), timestamp: m.t || null });
      return;
    }
    const ev = { type: 'group_update', id: widStr(m.id), group, author: widStr(m.author), timestamp: m.t || null };
    if (m.subtype === 'subject') {
      ev.subject = m.body || '';
      emitInOrder(ev);
      return;
    }
    // A new picture or none: the notice does not say which; the group's
    // picture now does.
    const meta = m.subtype === 'picture'
      ? Promise.race([
        WPP.contact.getProfilePictureUrl(group).then((url) => ({ picture: !!url })),
        new Promise((resolve) => setTimeout(resolve, 2000, {})),
      ]).catch(() => ({}))
      : Promise.race([
        WPP.chat.find(group).then((c) => (c && c.groupMetadata) || {}),
        new Promise((resolve) => setTimeout(resolve, 2000, {})),
      ]).catch(() => ({}));
    waiting += 1;
    inOrder = inOrder.then(() => meta).then((md) => {
      waiting -= 1;
      if (m.subtype === 'description') ev.description = m.body || md.desc || '';
      else if (m.body === 'on' || m.body === 'off') ev[m.subtype] = m.body === 'on';
      else if (typeof md[m.subtype] === 'boolean') ev[m.subtype] = md[m.subtype];
      else return; // unknown: nothing true to say
      emit(ev);
    });
  }

  // wa-js's answer for a group add or a new group, `{[id]: {code,
  // invite_code, invite_code_exp}}`: one row per person. 200 is added; a
  // 403 (their privacy settings) carries the code of an invite to send
  // them instead.
  function addOutcomes(r) {
    return Object.entries(r || {}).map(([id, o]) => ({
      // No code told: null, and the daemon goes by the group after.
      id: widStr((o && o.wid) || id), code: Number.isFinite(Number(o && o.code)) && o.code !== null ? Number(o.code) : null,
      invite_code: (o && o.invite_code) || null, invite_expires: Number(o && o.invite_code_exp) || null,
    }));
  }

  // wa-js refuses what only a group's admins may do with these codes; the
  // daemon maps the prefix to 409 not_group_admin.
  async function asMember(op) {
    try {
      return await op();
    } catch (e) {
      const code = e && typeof e.code === 'string' ? e.code : '';
      if (code.startsWith('you_are_not_allowed') || code === 'group_you_are_not_admin' || code === 'group_you_are_restricted_member') throw new Error('ONLY_ADMINS: ' + e.message);
      throw e;
    }
  }

  // A sender known only by its privacy id (`…@lid`): the phone behind it,
  // when WhatsApp makes it knowable. Bounded: a lookup never holds the
  // messages behind it for long.
  let inOrder = Promise.resolve();
  // Messages still waiting there: while any is, what is said about
  // messages (acks, edits, reactions, deletes, votes, group notices) waits
  // behind it, so nothing arrives before the message it is about.
  let waiting = 0;
  // WhatsApp Web stamps a reaction or a vote in s or in ms by where it
  // comes from: the daemon wants seconds.
  function secs(t) {
    return typeof t === 'number' && t > 0 ? (t > 1e11 ? Math.floor(t / 1000) : t) : null;
  }

  // wa-js getReactions: grouped by emoji; each sender is a Wid (its
  // typings say senderUserJid).
  function reactionRows(r) {
    const rows = [];
    for (const g of r.reactions || []) {
      for (const s of g.senders || []) {
        // WhatsApp Web keeps a reaction's key as a string: wa-js hands it on.
        const fromMe = typeof s.id === 'string' ? s.id.startsWith('true_') : !!(s.id && s.id.fromMe);
        rows.push({
          id: widStr(s.id), sender: widStr(s.sender || s.senderUserJid), text: s.reactionText || '',
          from_me: fromMe, timestamp: secs(s.timestamp),
        });
      }
    }
    return rows;
  }

  // wa-js getVotes: each choice a sparse array indexed by the option's
  // localId, as chat.poll_response has it. A voter's newest only, and an
  // option the poll lacks left out, as the live event leaves it.
  function voteRows(v) {
    const newest = new Map();
    for (const x of v.votes) {
      const sender = widStr(x.sender);
      const selected = [];
      (x.selectedOptions || []).forEach((o, i) => {
        if (o == null) return;
        selected.push(typeof o === 'object' && typeof o.localId === 'number' ? o.localId : i);
      });
      const row = { sender, selected, timestamp: secs(x.timestamp) };
      const had = newest.get(sender);
      if (!had || (row.timestamp || 0) >= (had.timestamp || 0)) newest.set(sender, row);
    }
    return [...newest.values()];
  }

  function emitInOrder(ev) {
    if (!waiting) emit(ev);
    else inOrder = inOrder.then(() => emit(ev));
  }
  async function withPhone(msg) {
    if (!msg.sender.lid || msg.sender.phone) return msg;
    try {
      const entry = await Promise.race([
        WPP.contact.getPnLidEntry(msg.sender.lid),
        new Promise((resolve) => setTimeout(() => resolve(null), 2000)),
      ]);
      if (entry && entry.phoneNumber) msg.sender.phone = phoneOf(entry.phoneNumber);
    } catch (e) { /* unknown: the privacy id stays the sender's only id */ }
    return msg;
  }

  // WhatsApp syncs a name changed on the phone to the page (its app
  // state) without an event wa-js passes on: the name is looked at when
  // events flow and when the daemon pings a quiet page, every 10 s at most.
  // The baseline is the name the daemon was told (`connected`, or a
  // change made through it).
  let shownName;
  let nameSeenAt = 0;
  function noteName() {
    const now = Date.now();
    if (shownName === undefined || now - nameSeenAt < 10000) return;
    nameSeenAt = now;
    let m = null;
    try { m = canSend() ? me() : null; } catch (e) { m = null; }
    if (!m || !m.name || m.name === shownName) return;
    shownName = m.name;
    emit({ type: 'me_changed', me: m });
  }

  function me() {
    const id = WPP.conn.getMyUserId();
    if (!id) return null;
    let name = null;
    try { name = WPP.profile.getMyProfileName() || null; } catch (e) { name = null; }
    return { id: widStr(id), phone: phoneOf(id) || (id.user || null), name };
  }

  // Whether the page can send now: WhatsApp's stream is in its MAIN mode
  // (a page restored from storage, or just linked, is authenticated while
  // it is still opening or syncing) and the network is up. A build that
  // does not say is taken at its word that it is authenticated.
  function canSend() {
    try {
      const s = WPP.conn.getStreamData();
      if (s && s.mode) return s.mode === 'MAIN' && WPP.conn.isOnline();
      return WPP.conn.isOnline();
    } catch (e) {
      return true;
    }
  }

  function streamMode() {
    try {
      const s = WPP.conn.getStreamData();
      return (s && s.mode) || null;
    } catch (e) {
      return null;
    }
  }

  let connectedSent = false;
  let reporting = false;
  // wa-js's StreamMode values in which the page cannot reach WhatsApp
  // (SYNCING, after a reconnect, can).
  const DOWN_MODES = ['OFFLINE', 'CONFLICT', 'PROXYBLOCK', 'TOS_BLOCK', 'SMB_TOS_BLOCK', 'DEPRECATED_VERSION'];
  // Whether such a mode holds now, and when the page last could not reach
  // WhatsApp (by its network or its socket).
  let modeDown = false;
  let netDown = false;
  // `connected` said offline: the next sign of WhatsApp (MAIN, or the
  // network back) says online.
  let saidOffline = false;
  let offlineAt = 0;
  function reportConnected() {
    // One waiting loop at a time, and none once told: a second CONNECTED
    // could come after the page went offline, and override it.
    if (connectedSent || reporting) return;
    reporting = true;
    // getMyUserId is set a moment after authentication on real WhatsApp.
    // Bounded in time, not in tries: a background page's timers are slow.
    const until = Date.now() + 60000;
    // CONNECTED means a send goes through: wait (15 s at most, then as
    // before) for the page to be able to send.
    const sendableBy = Date.now() + 15000;
    const tick = () => {
      if (connectedSent) { reporting = false; return; }
      const who = me();
      if (who && (canSend() || Date.now() > sendableBy)) {
        watchAcks();
        connectedSent = true;
        reporting = false;
        shownName = who.name || null;
        // Told after the wait while WhatsApp cannot be reached (its socket
        // down from the start, or the network): linked but offline, as a
        // drop after CONNECTED is. MAIN, or the network's return, says
        // online.
        let online = true;
        if (!canSend()) {
          if (DOWN_MODES.includes(streamMode())) modeDown = true;
          if (!WPP.conn.isOnline()) netDown = true;
          if (modeDown || netDown) {
            offlineAt = Date.now();
            saidOffline = true;
            online = false;
          }
        }
        emit({ type: 'connected', me: who, platform: WPP.conn.getPlatform() || null, online });
      } else if (Date.now() < until) {
        setTimeout(tick, 100);
      } else {
        reporting = false;
      }
    };
    tick();
  }

  // wa-js passes on only "sent" from a model's ack: delivered, read and
  // played of a group's message (or a status) are read from the model.
  // WhatsApp Web's MsgStore may exist only once its modules have loaded:
  // asked again at each step of the page's start until it does. (A build
  // without it is INCOMPATIBLE: it is in NEEDS.)
  let acksWatched = false;
  function watchAcks() {
    watchChats();
    if (acksWatched || !lookup('whatsapp.MsgStore')) return;
    acksWatched = true;
    WPP.whatsapp.MsgStore.on('change:ack', (m) => {
      const chat = m && m.id && widStr(m.id.remote);
      if (!chat || !m.id.fromMe || !(m.ack >= 2) || !(chat.endsWith('@g.us') || chat === STATUS)) return;
      emitInOrder({ type: 'ack', ack: m.ack, chat, ids: [widStr(m.id)] });
    });
  }

  // A chat archived, pinned, muted, read or marked unread (here, on the
  // phone or another device), and a chat deleted, from WhatsApp Web's
  // ChatStore, whose events are (chat, value, previous value). Its unread
  // count also rises with each message that comes: that is no event here
  // (the message is one), only a read (0) or a mark (-1).
  let chatsWatched = false;
  function watchChats() {
    if (chatsWatched || typeof lookup('whatsapp.ChatStore.on') !== 'function') return;
    chatsWatched = true;
    const chats = WPP.whatsapp.ChatStore;
    const changed = (field) => (c) => {
      const info = c && c.id && chatInfo(c);
      if (info && !info.id.endsWith('@newsletter')) emitInOrder(Object.assign({ type: 'chat', changed: field }, info));
    };
    chats.on('change:archive', changed('archived'));
    chats.on('change:pin', changed('pinned'));
    chats.on('change:muteExpiration', changed('muted_until'));
    const unread = changed('unread');
    chats.on('change:unreadCount', (c, n, prev) => { if ((n === 0 || n === -1) && n !== prev) unread(c); });
    chats.on('remove', (c) => {
      const id = c && c.id && widStr(c.id);
      // A logout empties the stores: no chat is deleted.
      if (!id || /@(newsletter|broadcast)$/.test(id) || !WPP.conn.isAuthenticated()) return;
      // Deleted, not only let go of: WhatsApp Web no longer has it (the
      // collection tells after the model is out of it), nor under the
      // person's other id (WhatsApp Web moves a chat from a phone's id to
      // its privacy id).
      waiting += 1;
      const gone = async () => {
        if (chats.get(id)) return false;
        if (id.endsWith('@g.us')) return true;
        try {
          // Bounded, as withPhone's: events wait behind it.
          const e = await Promise.race([
            WPP.contact.getPnLidEntry(id),
            new Promise((resolve) => setTimeout(() => resolve(null), 2000)),
          ]);
          const other = e && widStr(id.endsWith('@lid') ? e.phoneNumber : e.lid);
          return !(other && chats.get(other));
        } catch (e) {
          return true; // no other id known
        }
      };
      inOrder = inOrder.then(gone).catch(() => false).then((removed) => {
        waiting -= 1;
        if (removed) emit({ type: 'chat_removed', chat: id, name: c.name || c.formattedTitle || null });
      });
    });
  }

  function wire() {
    emit({ type: 'injected' });
    WPP.on('conn.auth_code_change', (code) => emit({ type: 'auth_code', code: code ? code.fullCode : null }));
    // WhatsApp Web stops offering codes after a few unscanned ones
    // (UNPAIRED_IDLE: "Click to reload the QR code"), and no new one comes
    // by itself: ask for more, as that click does, so that a session
    // waiting for its scan always shows a live code.
    const renewQR = () => {
      if (WPP.conn.isAuthenticated()) return;
      Promise.resolve().then(() => WPP.conn.refreshQR()).catch((e) => console.warn('wabridge: could not renew the QR code', e && e.message));
    };
    WPP.on('conn.qrcode_idle', renewQR);
    if (WPP.conn.isIdle()) renewQR();
    WPP.on('conn.authenticated', () => { watchAcks(); emit({ type: 'authenticated' }); reportConnected(); });
    WPP.on('conn.logout', () => { connectedSent = false; emit({ type: 'logout' }); });
    WPP.on('conn.require_auth', () => emit({ type: 'require_auth' }));
    WPP.on('conn.online', (online) => {
      // Down, and back: wa-js's null of a lookup that failed meanwhile is
      // kept 15 s from then.
      if (!online || netDown) offlineAt = Date.now();
      netDown = !online;
      // The network is back, but WhatsApp's socket may not be (a stream
      // mode that is down says so, and MAIN will tell when it is back).
      const up = !!online && !modeDown;
      if (up) saidOffline = false;
      emit({ type: 'online', online: up });
      if (online && WPP.conn.isAuthenticated()) reportConnected();
    });
    // conn.online follows the network the browser sees (wa-js's
    // NetworkStatus); WhatsApp's socket dropped by the server, or taken by
    // another device (CONFLICT), shows only as a stream mode other than
    // MAIN. Once connected, such a mode is offline until MAIN again.
    WPP.on('conn.stream_mode_changed', (mode) => {
      if (mode === 'MAIN') {
        if (modeDown || saidOffline) {
          modeDown = false;
          saidOffline = false;
          offlineAt = Date.now();
          emit({ type: 'online', online: true });
        }
        if (WPP.conn.isAuthenticated()) reportConnected();
      } else if (connectedSent && DOWN_MODES.includes(mode) && !modeDown) {
        modeDown = true;
        offlineAt = Date.now();
        emit({ type: 'online', online: false });
      }
    });
    WPP.on('chat.new_message', (m) => {
      // A group's own notices: a new subject or description, a setting.
      if (m && m.type === 'gp2' && GROUP_NOTICES.includes(m.subtype)) {
        groupNotice(m);
        return;
      }
      const msg = normalize(m);
      if (msg) {
        // Newest last, and the oldest go as new ones come: a page whose
        // messages are not trimmed keeps only the last minute's too.
        const now = Date.now();
        arrived.delete(msg.id);
        arrived.set(msg.id, now);
        for (const [id, at] of arrived) {
          if (now - at <= KEEP_ARRIVED_MS) break;
          arrived.delete(id);
        }
      }
      if (msg && forwardSeen) forwardSeen(msg);
      // In arrival order, even when a privacy id's phone must be looked up.
      if (!msg) return;
      waiting += 1;
      inOrder = inOrder.then(() => withPhone(msg)).then((x) => {
        waiting -= 1;
        emit({ type: 'message', msg: x });
      });
    });
    WPP.on('chat.poll_response', (e) => emitInOrder({
      type: 'poll_vote', msg_id: widStr(e.msgId), chat: widStr(e.chatId), sender: widStr(e.sender),
      // wa-js: a sparse array of the poll's {name, localId}, indexed by
      // localId; the time in ms.
      selected: (e.selectedOptions || []).filter((o) => o != null).map((o) => (typeof o === 'object' ? o.localId : o)),
      timestamp: e.timestamp ? Math.floor(e.timestamp / 1000) : null,
    }));
    WPP.on('chat.presence_change', (e) => emit({
      // wa-js stamps it with Date.now(); the daemon takes seconds.
      type: 'presence', id: widStr(e.id), state: e.state || null, online: !!e.isOnline,
      timestamp: e.t ? Math.floor(e.t > 1e12 ? e.t / 1000 : e.t) : null,
      // A group's: its members' states.
      participants: e.isGroup && Array.isArray(e.participants)
        ? e.participants.map((p) => ({ id: widStr(p.id), state: p.state || null })) : null,
    }));
    WPP.on('group.participant_changed', (e) => {
      let me = null;
      let myLid = null;
      try { me = widStr(WPP.conn.getMyUserId()); } catch (err) { me = null; }
      // wa-js throws while WhatsApp Web has no privacy id for this account.
      try { myLid = lookup('conn.getMyUserLid') ? widStr(WPP.conn.getMyUserLid()) : null; } catch (err) { myLid = null; }
      // A group that names its members by privacy id names this account so
      // too: the daemon knows it by its phone's id.
      const ours = (p) => (me && myLid && p === myLid ? me : p);
      const ev = {
        type: 'group_participants', group: widStr(e.groupId), action: e.action, author: ours(widStr(e.author)) || null,
        participants: (e.participants || []).map(widStr).map(ours),
      };
      // Put in a group: the group as WhatsApp Web has it now, for those who
      // greet a new group by its subject and size (open-wa's onAddedToGroup).
      if (['add', 'create', 'join', 'invite'].includes(e.action) && me && ev.participants.includes(me)) {
        const m = lookup('whatsapp.GroupMetadataStore.get') && WPP.whatsapp.GroupMetadataStore.get(ev.group);
        if (m) ev.info = groupInfo({ id: ev.group, groupMetadata: m });
      }
      emitInOrder(ev);
    });
    WPP.on('chat.msg_ack_change', (e) => {
      // One member's receipt in a group: wa-js keys it by that member, not
      // by the message, and one member is not all. The message's own ack,
      // which counts every member, comes from its model (below).
      if (e.sender) return;
      emitInOrder({ type: 'ack', ack: e.ack, chat: widStr(e.chat), ids: (e.ids || []).map(widStr) });
    });
    watchAcks();
    WPP.on('chat.new_reaction', (e) => {
      const ev = {
        type: 'reaction', id: widStr(e.id), msg_id: widStr(e.msgId), chat: e.msgId && widStr(e.msgId.remote),
        sender: widStr(e.sender), from_me: !!(e.id && e.id.fromMe), text: e.reactionText || '', timestamp: secs(e.timestamp),
      };
      // A privacy id: its phone, where WhatsApp Web knows it, as a
      // message's sender's is looked up (the reaction keeps its place).
      if (!ev.sender || !ev.sender.endsWith('@lid')) {
        emitInOrder(ev);
        return;
      }
      waiting += 1;
      inOrder = inOrder.then(() => withPhone({ sender: { lid: ev.sender } })).then((x) => {
        waiting -= 1;
        if (x.sender.phone) ev.sender_phone = x.sender.phone;
        emit(ev);
      });
    });
    WPP.on('chat.msg_edited', (e) => emitInOrder({
      // The chat from the message's key: wa-js's `chat` is the message's
      // `to`, this account itself for a contact's edit.
      type: 'edit', id: widStr(e.id), chat: widStr((e.msg && e.msg.id && e.msg.id.remote) || e.chat),
      text: e.msg ? (e.msg.type === 'chat' ? e.msg.body : e.msg.caption || e.msg.body) || '' : '',
      timestamp: e.msg && e.msg.latestEditSenderTimestampMs ? Math.floor(e.msg.latestEditSenderTimestampMs / 1000) : null,
    }));
    WPP.on('chat.msg_revoke', (e) => emitInOrder({
      type: 'revoke', id: widStr(e.refId || e.id), chat: widStr(e.from && e.id && e.id.remote ? e.id.remote : e.from),
    }));
    WPP.on('chat.update_label', (e) => emitInOrder({
      type: 'labels', chat: widStr(e.chat && e.chat.id), action: e.type === 'remove' ? 'remove' : 'add',
      labels: (e.labels || []).map(labelInfo), ids: (e.ids || []).map(String),
    }));
    WPP.on('call.incoming_call', (c) => {
      // wa-js's `sender` is the caller without their device (`peerJid`
      // has it): a phone's id, or a privacy id, whose phone is looked up
      // as a message's is.
      // A group call's is the call's own id (`…@call`).
      const from = (widStr(c.sender) || widStr(c.peerJid) || '').replace(/:\d+@/, '@');
      if (!c.id || !from) return;
      const ev = {
        type: 'call', id: String(c.id), from, is_video: !!c.isVideo, is_group: !!c.isGroup,
        timestamp: c.offerTime || Math.floor(Date.now() / 1000),
        sender: { phone: phoneOf(from), lid: from.endsWith('@lid') ? from : null },
      };
      waiting += 1;
      inOrder = inOrder.then(() => withPhone(ev)).then((x) => {
        waiting -= 1;
        emit(x);
      });
    });
    // wa-js's onReady only listens for the ready to come: one that came
    // before this script wired itself (wa-js injected first) never calls
    // back, and the page would never say `ready`.
    let readySaid = false;
    const whenReady = (fn) => {
      const once = () => { if (!readySaid) { readySaid = true; fn(); } };
      if (WPP.isReady) setTimeout(once, 0); else WPP.loader.onReady(once);
    };
    whenReady(async () => {
      watchAcks();
      // This document's own mark: the daemon tells a load that comes after
      // this page's `ready` from a new page life by it.
      window.__wabridgeReady = true;
      emit({ type: 'ready' });
      if (WPP.conn.isAuthenticated()) {
        reportConnected();
      } else {
        const code = await WPP.conn.getAuthCode();
        if (code) emit({ type: 'auth_code', code: code.fullCode });
      }
    });
  }

  // wa-js (or the sandbox's WPP) may appear after this script runs.
  (function waitForWPP() {
    if (window.WPP && window.WPP.loader && typeof window.WPP.on === 'function') wire();
    else setTimeout(waitForWPP, 50);
  })();

  // A data URL's media type has no spaces: "audio/ogg; codecs=opus" is
  // written "audio/ogg;codecs=opus".
  function dataUrl(b64, mimetype) {
    return 'data:' + String(mimetype || 'application/octet-stream').replace(/\s+/g, '') + ';base64,' + b64;
  }

  async function blobToBase64(blob) {
    const buf = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode.apply(null, buf.subarray(i, i + 0x8000));
    return btoa(s);
  }

  // Numbers known to be on WhatsApp, so a busy sender asks once an hour,
  // not once a message. Bounded: a page that checks numbers in bulk for
  // months keeps the newest 10,000.
  const known = new Map();
  async function exists(id) {
    const key = widStr(id);
    const until = known.get(key);
    if (until > Date.now()) return key;
    if (until !== undefined) known.delete(key);
    const r = await WPP.contact.queryWidExists(key);
    // wa-js answers null for a number WhatsApp does not know and for a
    // query that failed (it catches every error): while the page cannot
    // reach WhatsApp, null is no answer, nor for 15 s after (wa-js keeps a
    // null that long). The daemon maps the prefix to a passing failure.
    if (!r && (!canSend() || Date.now() - offlineAt < 16000)) throw new Error('OFFLINE: could not ask WhatsApp whether ' + key + ' is on WhatsApp');
    if (!r) return null;
    known.set(key, Date.now() + 3600 * 1000);
    if (known.size > 10000) known.delete(known.keys().next().value);
    return widStr(r.wid) || key;
  }

  // The key wa-js sends under (options.messageId, parsed by
  // MsgKey.fromString): the daemon's id, in the chat wa-js resolves `to`
  // to (a contact may have moved to a privacy id; prepareRawMessage wants
  // that chat), with generateMessageID's participant (this device, in a
  // group).
  async function keyFor(to, id) {
    if (!id) return undefined;
    const chat = await WPP.chat.find(to);
    const k = await WPP.chat.generateMessageID(chat);
    return 'true_' + widStr(k.remote) + '_' + id + (k.participant ? '_' + widStr(k.participant) : '');
  }

  // This account's status (stories), and a key in it: WhatsApp's has
  // this account as its participant.
  const STATUS = 'status@broadcast';
  function statusKey(id) {
    if (!id) return undefined;
    return 'true_' + STATUS + '_' + id + '_' + widStr(WPP.conn.getMyUserId());
  }

  // The daemon maps this prefix to 422 number_not_on_whatsapp.
  // ONLY_ADMINS, to 409 not_group_admin: a group where only admins send,
  // as its metadata says (WhatsApp Web keeps it current), and we are none.
  async function ensureExists(to) {
    if (to.endsWith('@c.us') && !(await exists(to))) throw new Error('NOT_ON_WHATSAPP: ' + to);
    if (to.endsWith('@g.us')) {
      const meta = ((await WPP.chat.find(to)) || {}).groupMetadata;
      // A community has no chat (wa-js refuses it too): its announcement
      // group is where its admins write.
      if (meta && meta.isParentGroup) {
        let ann = null;
        try { ann = widStr(WPP.community.getAnnouncementGroup(to)); } catch (e) { /* an older wa-js */ }
        throw new Error('COMMUNITY_CHAT: ' + to + ' is a community, which has no chat of its own; write in its announcement group' + (ann ? ' ' + ann : ''));
      }
      if (meta && meta.announce && !(await WPP.group.iAmAdmin(to))) throw new Error('ONLY_ADMINS: only group admins can send messages to ' + to);
    }
  }

  // A send that quotes a message wa-js cannot reply to: prefixes the
  // daemon maps to a 422 on reply_to (wa-js's WPPError codes; a quote of a
  // chat this account never had is chat_not_found).
  async function quoting(replyTo, send, to, id) {
    // A copy the page holds already is an earlier attempt's (a retry under
    // the same id), which may still go: not this call's to mark failed.
    const earlier = id && lookup('whatsapp.MsgStore') ? WPP.whatsapp.MsgStore.get(id) : null;
    try {
      return await send();
    } catch (e) {
      // The page made the message before WhatsApp refused it: failed.
      if (!earlier) failedSend(to, id, true);
      // Larger than WhatsApp takes for its type (wa-js tells the limit).
      if (e && e.code === 'file_too_large') throw new Error('MEDIA_TOO_LARGE: ' + (Number(e.limit) || 0) + ': ' + e.message);
      const code = replyTo && e && e.code;
      if (code === 'msg_not_found' || code === 'chat_not_found' || code === 'invalid_quoted_msg') throw new Error('QUOTED_NOT_FOUND: ' + replyTo);
      if (code === 'quoted_msg_can_not_reply') throw new Error('QUOTED_NOT_REPLIABLE: ' + replyTo);
      throw e;
    }
  }

  // wa-js answers a send WhatsApp refused without throwing: its
  // sendMsgResult (awaited by waitForAck) says ERROR_...; that is a failed
  // send, not a sent one.
  // A channel post's model: wa-js puts the server id on the one in the
  // channel's chat.
  function postModel(chat, id) {
    const c = WPP.chat.get(chat);
    const inChat = c && c.msgs && typeof c.msgs.get === 'function' ? c.msgs.get(id) : null;
    return inChat || WPP.whatsapp.MsgStore.get(id) || null;
  }

  // A send WhatsApp refused: the page's copy is failed (ack -1), which
  // wa-js tells no event of (it reports acks from 1 up). `held`: only if
  // WhatsApp Web holds such a message of ours not yet sent.
  function failedSend(to, id, held) {
    if (!id) return;
    const m = lookup('whatsapp.MsgStore') ? WPP.whatsapp.MsgStore.get(id) : null;
    if (held && !(m && m.id && m.id.fromMe && !(m.ack > 0))) return;
    const chat = widStr(to) || (m && m.id && widStr(m.id.remote));
    if (chat) emitInOrder({ type: 'ack', ack: -1, chat, ids: [id] });
  }

  // `to`: the chat it went to (wa-js's answer of a file send names none).
  async function sent(r, to) {
    const res = await Promise.resolve(r.sendMsgResult).catch(() => null);
    const code = typeof res === 'string' ? res : res && res.messageSendResult;
    if (code && code !== 'OK') {
      failedSend(to || r.to, widStr(r.id), false);
      throw new Error('WhatsApp did not send the message: ' + code);
    }
    // wa-js answers a channel's post OK and marks it sent whatever
    // WhatsApp said: only a post WhatsApp took has its server id.
    const chat = widStr(to || r.to) || '';
    if (chat.endsWith('@newsletter')) {
      const id = widStr(r.id);
      const m = postModel(chat, id);
      // (One WhatsApp Web does not show cannot be judged: taken as sent.)
      if (m && !m.serverId) {
        emitInOrder({ type: 'ack', ack: -1, chat, ids: [id] });
        throw new Error('CHANNEL_REFUSED: WhatsApp did not take the post to ' + chat);
      }
    }
    return { id: widStr(r.id), ack: typeof r.ack === 'number' ? r.ack : 0, timestamp: Math.floor(Date.now() / 1000) };
  }

  // WhatsApp Web gives a forwarded copy an id of its own, and wa-js does
  // not answer it (nor does WhatsApp mark a forward of our own message as
  // forwarded): the copy is the next message of ours, of the original's
  // type, that the target chat shows. Forwards go one at a time, and an id
  // handed out once is never handed out again.
  let forwarding = Promise.resolve();
  let forwardSeen = null;
  const handedOut = [];
  function forwardOne(to, id, kind, waitMs) {
    // A forward of someone else's message is marked forwarded; of ours, not.
    const theirs = id.startsWith('false_');
    const wait = waitMs || 10000;
    // The daemon gives up on the call after twice the wait (this deadline
    // is a second later, so its timeout, "maybe sent", comes first): a
    // forward still queued then is not made, and one that WhatsApp Web
    // never settles does not hold every later one.
    const deadline = Date.now() + 2 * wait + 1000;
    const within = (p, what) => Promise.race([p, new Promise((_, reject) => {
      setTimeout(() => reject(new Error('FORWARD_UNSEEN: WhatsApp Web did not finish ' + what + ' in time')), Math.max(0, deadline - Date.now()));
    })]);
    const run = forwarding.then(async () => {
      if (Date.now() >= deadline) throw new Error('FORWARD_UNSEEN: not forwarded; the call ran out of time behind the forwards before it');
      const chat = await within(WPP.chat.find(to), 'finding the chat');
      const target = widStr(chat && chat.id) || to;
      // Its text or caption, which the copy keeps: one of ours of the same
      // type sent meanwhile (from the phone, or here with pacing off) is
      // not the copy. (Not found: the forward below says so.)
      let original = null;
      // (Bounded apart: a slow lookup must not eat the forward's time.)
      const lookup = new Promise((_, reject) => setTimeout(() => reject(new Error('slow')), 2000));
      try { original = normalize(await Promise.race([WPP.chat.getMessageById(id), lookup])); } catch (_) { /* the forward answers */ }
      const seen = new Promise((resolve) => {
        forwardSeen = (msg) => {
          if (!msg.from_me || msg.chat !== target || (kind && msg.type !== kind) || (theirs && !msg.forwarded) || handedOut.includes(msg.id)) return;
          if (original && (msg.text !== original.text || msg.caption !== original.caption)) return;
          resolve(msg);
        };
      });
      let refused;
      try {
        refused = await within(WPP.chat.forwardMessages(target, [id], { displayCaptionText: true }), 'the forward');
      } catch (e) {
        // The daemon maps this prefix to 404.
        if (e && (e.code === 'msg_not_found' || e.code === 'chat_not_found')) throw new Error('FORWARD_NOT_FOUND: ' + id);
        throw e;
      }
      // wa-js does not reject a forward WhatsApp Web refused (a message
      // deleted for everyone): it answers it among those not forwarded.
      // The daemon maps this prefix to 409.
      if (Array.isArray(refused) && refused.length) throw new Error('NOT_FORWARDABLE: ' + id);
      const copy = await Promise.race([seen, new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(wait, deadline - Date.now())), null))]);
      // Maybe sent, maybe not: the daemon says so (503), as for a timeout.
      if (!copy) throw new Error('FORWARD_UNSEEN: WhatsApp Web did not show the forwarded copy of ' + id);
      handedOut.push(copy.id);
      if (handedOut.length > 100) handedOut.shift();
      return { id: copy.id, ack: copy.ack, timestamp: copy.timestamp };
    }).finally(() => { forwardSeen = null; });
    forwarding = run.catch(() => {});
    return run;
  }

  // Every wa-js member bridge.js uses (the contract test keeps this list
  // equal to the code's uses). A WhatsApp Web build on which wa-js lacks one
  // is INCOMPATIBLE: the daemon says so instead of failing call by call.
  const NEEDS = [
    'blocklist.all', 'blocklist.blockContact', 'blocklist.isBlocked', 'blocklist.unblockContact', 'call.reject',
    'chat.archive', 'chat.clear', 'chat.delete', 'chat.deleteMessage', 'chat.downloadMedia', 'chat.editMessage', 'chat.find', 'chat.forwardMessages',
    'chat.generateMessageID', 'chat.get', 'chat.getMessageACK', 'chat.getMessageById', 'chat.getMessages', 'chat.getNotes', 'chat.getReactions', 'chat.getVotes', 'chat.list',
    'chat.markIsComposing', 'chat.markIsPaused', 'chat.markIsRead', 'chat.markIsRecording', 'chat.markIsUnread', 'chat.mute', 'chat.pin', 'chat.pinMsg',
    'chat.sendCreatePollMessage', 'chat.sendEventMessage', 'chat.sendFileMessage', 'chat.sendGroupInviteMessage', 'chat.sendLocationMessage',
    'chat.sendReactionToMessage', 'chat.sendTextMessage', 'chat.sendVCardContactMessage', 'chat.setNotes', 'chat.starMessage', 'chat.unmute', 'conn',
    'conn.genLinkDeviceCodeForPhoneNumber', 'conn.getAuthCode', 'conn.getMyUserId',
    'conn.getPlatform', 'conn.getStreamData', 'conn.isAuthenticated', 'conn.isIdle', 'conn.isOnline', 'conn.logout',
    'conn.markAvailable', 'conn.refreshQR', 'contact.get', 'contact.getBusinessProfile', 'contact.getPnLidEntry',
    'contact.getProfilePictureUrl', 'contact.getStatus', 'contact.list', 'contact.queryWidExists', 'contact.remove',
    'contact.save', 'contact.subscribePresence', 'group.addParticipants', 'group.approve', 'group.create', 'group.demoteParticipants',
    'group.getAllGroups', 'group.getGroupInfoFromInviteCode', 'group.getInviteCode', 'group.getMembershipRequests', 'group.getParticipants', 'group.iAmAdmin', 'group.join', 'group.leave',
    'group.promoteParticipants', 'group.reject', 'group.removeIcon', 'group.removeParticipants', 'group.revokeInviteCode', 'group.setDescription', 'group.setIcon', 'group.setProperty', 'group.setSubject', 'isReady',
    'newsletter.create', 'newsletter.destroy', 'newsletter.edit', 'newsletter.follow', 'newsletter.mute', 'newsletter.search', 'newsletter.unfollow',
    'labels.addNewLabel', 'labels.addOrRemoveLabels', 'labels.deleteLabel', 'labels.editLabel', 'labels.getAllLabels',
    'labels.getLabelById', 'labels.getLabelColorPalette', 'loader', 'loader.onReady', 'on',
    'profile.editBusinessProfile', 'profile.getMyProfileName', 'profile.getMyStatus', 'profile.isBusiness', 'profile.removeMyProfilePicture', 'profile.setMyProfileName',
    'profile.setMyProfilePicture', 'profile.setMyStatus', 'status.remove', 'status.sendImageStatus', 'status.sendTextStatus',
    'status.sendVideoStatus', 'version', 'whatsapp.MsgStore', 'whatsapp.MsgStore.get', 'whatsapp.MsgStore.getModelsArray', 'whatsapp.functions.unixTime',
    'whatsapp.MsgStore.length', 'whatsapp.MsgStore.on', 'whatsapp.MsgStore.remove',
  ];

  // Members only one feature needs, which older WhatsApp Web builds lack
  // (pins came with 2.3000.1029839609, these finds with 2.3000.1034162388;
  // wa-js lets them be missing): a build without one is not INCOMPATIBLE;
  // the call that needs it says so (UNSUPPORTED).
  // The contract test keeps NEEDS and WANTS together equal to the uses.
  const WANTS = [
    'community.addSubgroups', 'community.create', 'community.deactivate', 'community.demoteParticipants', 'community.getAnnouncementGroup', 'community.promoteParticipants',
    'community.removeSubgroups', 'conn.getMyUserLid', 'whatsapp.ChatStore', 'whatsapp.ChatStore.get', 'whatsapp.ChatStore.on', 'whatsapp.GroupMetadataStore.get', 'whatsapp.GroupMetadataStore.getModelsArray',
    'whatsapp.MsgModel', 'whatsapp.PinInChatStore', 'whatsapp.PresenceStore.get', 'whatsapp.PinInChatStore.getByParentMsgKey', 'whatsapp.PinInChatStore.getModelsArray',
    'whatsapp.enums.PinExpiryDurationOption', 'whatsapp.functions.msgFindSearch', 'whatsapp.functions.msgFindStarred',
  ];

  // wa-js's `whatsapp.*` members look WhatsApp Web's modules up when read:
  // one that throws is one this build lacks.
  function lookup(path) {
    try {
      return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), window.WPP);
    } catch (e) {
      return undefined;
    }
  }
  function wanted(path, what) {
    if (lookup(path) === undefined) throw new Error('UNSUPPORTED: this WhatsApp Web build (or wa-js) has no ' + what);
  }
  // Pinned messages came with WhatsApp Web 2.3000.1029839609.
  function pinsWanted() {
    for (const p of ['whatsapp.PinInChatStore', 'whatsapp.enums.PinExpiryDurationOption']) wanted(p, 'pinned messages');
  }

  // Communities came with WhatsApp Web 2.2241 and wa-js 2.23.
  function communitiesWanted() {
    for (const p of ['community.create', 'whatsapp.GroupMetadataStore.getModelsArray']) wanted(p, 'communities');
  }

  // A community this account is in (WhatsApp Web's parent group); the
  // daemon maps the prefix to 404. WhatsApp Web keeps the metadata of one
  // left: a member is in at least its announcement group.
  function isMyCommunity(m) {
    return !!(m && m.isParentGroup && (m.joinedSubgroups || []).length);
  }
  function myCommunity(id) {
    communitiesWanted();
    const m = WPP.whatsapp.GroupMetadataStore.get(id);
    if (!isMyCommunity(m)) throw new Error('COMMUNITY_NOT_FOUND: this account is in no community ' + id);
    return m;
  }

  // A community's own calls, refused as the daemon names them: someone
  // who is no member (wa-js's code); `creator`: the prefix of what only
  // its creator may do (or undo).
  async function asCommunityAdmin(op, creator) {
    try {
      return await asMember(op);
    } catch (e) {
      if (e && e.code === 'group_participant_not_found') throw new Error('NOT_MEMBER: ' + e.message);
      if (creator && /creator/.test(String(e && e.message))) throw new Error(creator + ': ' + e.message);
      throw e;
    }
  }

  // A community's parent group and its announcement group are changed as
  // the community's, not as groups.
  function plainGroup(c, id) {
    const meta = (c && c.groupMetadata) || {};
    if (meta.isParentGroup) throw new Error('GROUP_NOT_FOUND: ' + id + ' is a community');
    if (meta.defaultSubgroup || meta.groupType === 'LINKED_ANNOUNCEMENT_GROUP') {
      throw new Error("COMMUNITY_GROUP: " + id + " is a community's announcement group: its members are the community's");
    }
  }

  // A community as the daemon shows it: its announcement group apart from
  // the groups linked to it (those this account is in, as WhatsApp Web
  // holds them).
  function communityInfo(m) {
    const subs = (m.joinedSubgroups || []).map((s) => WPP.whatsapp.GroupMetadataStore.get(widStr(s))).filter(Boolean);
    const ann = subs.find((s) => s.defaultSubgroup || s.groupType === 'LINKED_ANNOUNCEMENT_GROUP');
    return {
      id: widStr(m.id), name: m.subject || null, description: m.desc || null, owner: widStr(m.owner),
      created: typeof m.creation === 'number' ? m.creation : null, announcement_group: ann ? widStr(ann.id) : null,
      groups: subs.filter((s) => s !== ann).map((s) => ({ id: widStr(s.id), subject: s.subject || null })),
    };
  }

  // wa-js's answer to a link or unlink: per group, done or why not.
  function linkOutcome(r) {
    return {
      done: ((r && r.linkedGroupJids) || []).map(widStr),
      failed: ((r && r.failedGroups) || []).map((f) => ({ id: widStr(f.jid), error: String(f.error) })),
    };
  }

  // A group this account is in (a community is none); the daemon maps the
  // prefix to 404.
  async function myGroup(id) {
    const found = (await WPP.group.getAllGroups()).filter((c) => c && !(c.groupMetadata && c.groupMetadata.isParentGroup)).find((c) => widStr(c.id) === id);
    if (!found) throw new Error('GROUP_NOT_FOUND: ' + id);
    return found;
  }

  // A community's name, description and picture are its parent group's,
  // set as a group's are.
  async function groupOrCommunity(id) {
    const m = lookup('whatsapp.GroupMetadataStore.get') && WPP.whatsapp.GroupMetadataStore.get(id);
    if (m && m.isParentGroup) return myCommunity(id);
    return myGroup(id);
  }

  // The daemon's calls. Each returns JSON-able values; errors throw.
  window.__wabridge = {
    // The daemon's ping of a quiet page: alive, and a look at the name.
    pulse() {
      noteName();
      return 1;
    },
    // The versions in play, and what of NEEDS this build lacks.
    compat() {
      const W = window.WPP;
      const waWeb = (window.Debug && window.Debug.VERSION) || null;
      if (!W) return { wa_js: null, wa_web: waWeb, missing: ['WPP'] };
      return { wa_js: W.version || null, wa_web: waWeb, missing: NEEDS.filter((p) => lookup(p) === undefined), lacking: WANTS.filter((p) => lookup(p) === undefined) };
    },
    state() {
      const W = window.WPP;
      if (!W || !W.conn) return { wpp: false };
      return {
        wpp: true,
        ready: !!W.isReady,
        authenticated: W.conn.isAuthenticated(),
        me: W.conn.isAuthenticated() ? me() : null,
        platform: W.conn.isAuthenticated() ? W.conn.getPlatform() || null : null,
      };
    },
    // messageId: the id the daemon chose for this message, so a send whose
    // outcome was lost can be found, and sent again under the same id.
    // markIsRead: false, or wa-js marks the chat read before each send: the
    // daemon decides when a chat is read (sendSeen, POST .../read).
    async sendText(to, text, replyTo, mentions, messageId) {
      await ensureExists(to);
      const opts = { createChat: true, markIsRead: false, messageId: await keyFor(to, messageId) };
      if (replyTo) opts.quotedMsg = replyTo;
      if (mentions && mentions.length) opts.mentionedList = mentions;
      return sent(await quoting(replyTo, () => WPP.chat.sendTextMessage(to, text, opts), to, opts.messageId), to);
    },
    // A text status (story), under the planned id.
    async postStatus(text, background, font, messageId) {
      // Posting reads nothing: contacts' statuses stay unseen.
      const opts = { messageId: statusKey(messageId), markIsRead: false };
      if (background) opts.backgroundColor = background;
      if (typeof font === 'number') opts.font = font;
      return sent(await WPP.status.sendTextStatus(text, opts));
    },
    async sendFile(to, b64, o) {
      // A status's image or video.
      if (to === STATUS) {
        const mt = String(o.mimetype || '');
        // wa-js names a status's image or video itself (the planned id is
        // not taken): the daemon keeps what it answers.
        const opts = { caption: o.caption || undefined, markIsRead: false };
        if (mt.startsWith('image/')) return sent(await WPP.status.sendImageStatus(dataUrl(b64, mt), opts));
        if (mt.startsWith('video/')) return sent(await WPP.status.sendVideoStatus(dataUrl(b64, mt), opts));
        throw new Error('STATUS_MEDIA: a status is an image or a video, not ' + (mt || 'this'));
      }
      await ensureExists(to);
      const opts = { type: o.type || 'auto-detect', caption: o.caption || undefined, filename: o.filename || undefined, mimetype: o.mimetype, createChat: true, markIsRead: false, messageId: await keyFor(to, o.messageId) };
      if (o.ptt) opts.isPtt = true;
      if (o.viewOnce) opts.isViewOnce = true;
      if (o.gif) opts.isGif = true;
      if (o.replyTo) opts.quotedMsg = o.replyTo;
      if (o.mentions && o.mentions.length) opts.mentionedList = o.mentions;
      return sent(await quoting(o.replyTo, () => WPP.chat.sendFileMessage(to, dataUrl(b64, o.mimetype), opts), to, opts.messageId), to);
    },
    async sendLocation(to, loc, replyTo, messageId) {
      await ensureExists(to);
      const opts = { lat: loc.lat, lng: loc.lng, name: loc.name || undefined, address: loc.address || undefined, createChat: true, markIsRead: false, messageId: await keyFor(to, messageId) };
      if (replyTo) opts.quotedMsg = replyTo;
      return sent(await quoting(replyTo, () => WPP.chat.sendLocationMessage(to, opts), to, opts.messageId), to);
    },
    // A private invite to a group (`groups_v4_invite`), as WhatsApp's own
    // "Invite to group" sends to someone it would not add: inv {group,
    // code, expires}, the code WhatsApp made for them.
    async sendGroupInvite(to, inv, comment, replyTo, messageId) {
      await ensureExists(to);
      const opts = {
        inviteCode: inv.code, inviteCodeExpiration: inv.expires || undefined, groupId: inv.group, createChat: true, markIsRead: false,
        messageId: await keyFor(to, messageId),
      };
      if (comment) opts.caption = comment;
      if (replyTo) opts.quotedMsg = replyTo;
      return sent(await quoting(replyTo, () => WPP.chat.sendGroupInviteMessage(to, opts), to, opts.messageId), to);
    },
    // selectable: how many options one may pick (0: any number).
    async sendPoll(to, name, options, selectable, replyTo, messageId) {
      await ensureExists(to);
      const opts = { selectableCount: selectable, createChat: true, markIsRead: false, messageId: await keyFor(to, messageId) };
      if (replyTo) opts.quotedMsg = replyTo;
      return sent(await quoting(replyTo, () => WPP.chat.sendCreatePollMessage(to, name, options, opts), to, opts.messageId), to);
    },
    // ev: {name, description?, start, end?, location?: {name, lat?, lng?},
    // call?: 'voice'|'video'}.
    async sendEvent(to, ev, replyTo, messageId) {
      await ensureExists(to);
      const opts = { name: ev.name, startTime: ev.start, createChat: true, markIsRead: false, messageId: await keyFor(to, messageId) };
      if (ev.description) opts.description = ev.description;
      if (ev.end) opts.endTime = ev.end;
      // A place by its name only carries no coordinates (not 0, 0).
      if (ev.location) {
        opts.location = { name: ev.location.name };
        if (ev.location.lat != null && ev.location.lng != null) Object.assign(opts.location, { degreesLatitude: ev.location.lat, degreesLongitude: ev.location.lng });
      }
      if (ev.call) opts.callType = ev.call;
      if (replyTo) opts.quotedMsg = replyTo;
      return sent(await quoting(replyTo, () => WPP.chat.sendEventMessage(to, opts), to, opts.messageId), to);
    },
    // contacts: [{id: "155...@c.us", name}]
    async sendContacts(to, contacts, replyTo, messageId) {
      await ensureExists(to);
      const opts = { createChat: true, markIsRead: false, messageId: await keyFor(to, messageId) };
      if (replyTo) opts.quotedMsg = replyTo;
      return sent(await quoting(replyTo, () => WPP.chat.sendVCardContactMessage(to, contacts, opts), to, opts.messageId), to);
    },
    // id: a message this account has, of the daemon's type `kind` (null:
    // not known); answers the copy sent to `to`, seen within waitMs.
    async forward(to, id, kind, waitMs) {
      await ensureExists(to);
      return forwardOne(to, id, kind, waitMs);
    },
    // An empty emoji removes this account's reaction.
    async react(id, emoji) {
      await WPP.chat.sendReactionToMessage(id, emoji || false);
      return true;
    },
    async edit(id, text) {
      // markIsRead: false, as for every send: wa-js's default marks the
      // chat read (read receipts for what came unread) with each edit.
      await WPP.chat.editMessage(id, text, { markIsRead: false });
      return true;
    },
    // Delete for everyone: our own messages, and in a group we run anyone's.
    // wa-js deletes what it may not delete for everyone for this device
    // only, without a word: asked first, as wa-js decides (NOT_ADMIN maps
    // to 409 not_own_message).
    async revoke(chat, id) {
      // A status of ours is taken down as WhatsApp Web does it.
      if (chat === STATUS) {
        await WPP.status.remove(id);
        return true;
      }
      if (!id.startsWith('true_') && !(chat.endsWith('@g.us') && (await WPP.group.iAmAdmin(chat)))) {
        throw new Error('NOT_ADMIN: only this account\'s own messages, or anyone\'s in a group it runs, can be deleted for everyone');
      }
      const r = await WPP.chat.deleteMessage(chat, id, false, true);
      const one = Array.isArray(r) ? r[0] : r;
      if (one && one.isRevoked === false) throw new Error('WhatsApp did not delete the message for everyone');
      return true;
    },
    // Delete for me: gone from this account's phone and devices (WhatsApp's
    // app state); the others in the chat keep theirs. False when WhatsApp
    // Web no longer has it (deleted already, on the phone too).
    async deleteForMe(chat, id) {
      try {
        await WPP.chat.deleteMessage(chat, id, false, false);
      } catch (e) {
        if (e && (e.code === 'msg_not_found' || e.code === 'chat_not_found')) return false;
        throw e;
      }
      return true;
    },
    // Clears a chat (`remove`: deletes it) on the phone and every device;
    // `keepStarred` keeps a cleared chat's starred messages. Answers the
    // ids the chat still has after (those WhatsApp kept), so the daemon's
    // history keeps the same ones.
    async clearChat(chat, remove, keepStarred) {
      // wa-js finds or makes the chat it deletes: one the account does not
      // have is not found, not made and deleted.
      const notFound = () => new Error('CHAT_NOT_FOUND: this account has no chat ' + chat);
      if (!WPP.chat.get(chat)) throw notFound();
      let r;
      try {
        r = remove ? await WPP.chat.delete(chat) : await WPP.chat.clear(chat, keepStarred);
      } catch (e) {
        if (e && e.code === 'chat_not_found') throw notFound();
        throw e;
      }
      if (r && r.status && r.status !== 200) throw new Error('WhatsApp did not ' + (remove ? 'delete' : 'clear') + ' the chat (status ' + r.status + ')');
      if (remove) return [];
      const left = await WPP.chat.getMessages(chat, { count: -1 });
      return left.map((m) => widStr(m.id));
    },
    // Stars or unstars a message (WhatsApp syncs it to the phone).
    async star(id, on) {
      try {
        await WPP.chat.starMessage(id, on);
      } catch (e) {
        if (e && (e.code === 'msg_not_found' || e.code === 'chat_not_found')) throw new Error('MESSAGE_NOT_FOUND: WhatsApp Web has no message ' + id);
        throw e;
      }
      return true;
    },
    // Pins (`on`) or unpins a message for everyone in its chat, for
    // `duration` (a name of WhatsApp Web's PinExpiryDurationOption, `secs`
    // long). Answers the pin in force after, or null. Already so (pinned
    // for as long, or not pinned): nothing is sent.
    async pinMessage(id, on, duration, secs) {
      pinsWanted();
      let msg;
      try {
        msg = await WPP.chat.getMessageById(id);
      } catch (e) {
        if (e && (e.code === 'msg_not_found' || e.code === 'chat_not_found')) throw new Error('MESSAGE_NOT_FOUND: WhatsApp Web has no message ' + id);
        throw e;
      }
      const pins = WPP.whatsapp.PinInChatStore;
      const now = WPP.whatsapp.functions.unixTime();
      const row = pins.getByParentMsgKey(msg.id);
      const before = livePin(row, now);
      if (!on && !before) return null;
      if (on && before && before.pinExpiryDuration === secs) return pinInfo(before);
      const option = WPP.whatsapp.enums.PinExpiryDurationOption[duration];
      if (on && option === undefined) throw new Error('WhatsApp Web has no pin duration ' + duration);
      // wa-js will not pin what its table has pinned: a pin for a new time,
      // or one whose time ran out (its row stays), is unpinned first, and
      // its row, which may follow wa-js's answer, waited for.
      const renew = on && row && row.pinType === 1;
      if (renew) {
        await pinOnce(msg.id, false);
        const gone = () => { const r = pins.getByParentMsgKey(msg.id); return !r || r.pinType !== 1; };
        // By the clock: a page in the background wakes its timers once a second.
        const until = Date.now() + 2000;
        while (!gone() && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
      }
      try {
        await pinOnce(msg.id, on, option);
      } catch (e) {
        if (renew && before) e.message += ' (its earlier pin was taken off)';
        throw e;
      }
      if (!on) return null;
      // This pin's row, not an earlier one's: WhatsApp took it (wa-js said
      // so), and its row may come with the echo.
      const r = pins.getByParentMsgKey(msg.id);
      const after = livePin(r, WPP.whatsapp.functions.unixTime()) && r.pinExpiryDuration === secs && r.t >= now ? r : null;
      return after ? pinInfo(after) : { id, by: (me() || {}).id || null, at: now, expires_at: now + secs };
    },
    // Who got, read and played one of this account's messages (WhatsApp
    // Web's message info), each recipient with the times WhatsApp Web keeps.
    async receipts(id) {
      let r;
      try {
        r = await WPP.chat.getMessageACK(id);
      } catch (e) {
        if (e && (e.code === 'msg_not_found' || e.code === 'chat_not_found')) throw new Error('MESSAGE_NOT_FOUND: WhatsApp Web has no message ' + id);
        throw e;
      }
      const at = (t) => (typeof t === 'number' && t > 0 ? t : null);
      return {
        ack: typeof r.ack === 'number' ? r.ack : null,
        delivery_remaining: r.deliveryRemaining || 0, read_remaining: r.readRemaining || 0, played_remaining: r.playedRemaining || 0,
        recipients: (r.participants || []).map((p) => ({
          id: widStr(p.wid) || widStr(p.id), delivered_at: at(p.deliveredAt), read_at: at(p.readAt), played_at: at(p.playedAt),
        })),
      };
    },
    // WhatsApp Web's own search of the messages it holds (text and
    // captions, as the phone searches), newest first, in `chat` only when
    // given; `page` from 1. Each as normalized; `more` when there may be
    // a next page.
    async search(query, chat, page, count) {
      wanted('whatsapp.functions.msgFindSearch', 'message search');
      wanted('whatsapp.MsgModel', 'message model');
      const r = await WPP.whatsapp.functions.msgFindSearch({ searchTerm: query, page, count, remote: findChat(chat) });
      // As WhatsApp Web reads its search's answer: a status of 400 or more
      // (its index not ready) or a cancelled search is a failure, not
      // "nothing found".
      if (r && (r.status >= 400 || r.canceled)) throw new Error('WhatsApp Web\'s search failed (' + (r.canceled ? 'cancelled' : 'status ' + r.status) + ')');
      const found = Array.isArray(r) ? r : (r && r.messages) || [];
      return { msgs: await foundMessages(found), more: Array.isArray(r) ? found.length >= count : !!r && !r.eof };
    },
    // The account's starred messages (starred here, on the phone or
    // another device), newest first, in `chat` only when given, older
    // than message `before` when given.
    // `last`: the id of the last one read, where the next page starts
    // (what normalizing leaves out counts).
    async starred(chat, before, count) {
      wanted('whatsapp.functions.msgFindStarred', 'list of starred messages');
      wanted('whatsapp.MsgModel', 'message model');
      const remote = findChat(chat);
      let anchor;
      if (before) {
        let m;
        try {
          m = await WPP.chat.getMessageById(before);
        } catch (e) {
          throw new Error('MESSAGE_NOT_FOUND: WhatsApp Web has no message ' + before);
        }
        // WhatsApp Web pages from the anchor's star: one without restarts.
        if (!m.star) throw new Error('NOT_STARRED: message ' + before + ' is not starred');
        anchor = m.id;
      }
      const list = await WPP.whatsapp.functions.msgFindStarred({ count: count + 1, chat: remote, anchor });
      const page = list.slice(0, count);
      return { msgs: await foundMessages(page), more: list.length > count, last: page.length ? widStr(page[page.length - 1].id) : null };
    },
    // The messages pinned in a chat, newest pin first, each with the
    // message as WhatsApp Web has it (null when it has it no more).
    async pinned(chat) {
      pinsWanted();
      const id = widStr(findChat(chat));
      const now = WPP.whatsapp.functions.unixTime();
      const rows = WPP.whatsapp.PinInChatStore.getModelsArray()
        .filter((r) => widStr(r.chatId) === id && livePin(r, now))
        .sort((a, b) => b.t - a.t);
      const out = [];
      for (const r of rows) {
        // In memory, else loaded back (three pins at most).
        let m = WPP.whatsapp.MsgStore.get(r.parentMsgKey) || null;
        if (!m) {
          try { m = await WPP.chat.getMessageById(r.parentMsgKey); } catch (e) { /* gone from WhatsApp Web */ }
        }
        const n = m && normalize(m);
        out.push(Object.assign(pinInfo(r), { msg: n ? await withPhone(n) : null }));
      }
      return out;
    },
    // state: typing, recording, paused (in `chat`), online, offline.
    async presence(chat, state) {
      switch (state) {
        case 'typing': await WPP.chat.markIsComposing(chat); break;
        case 'recording': await WPP.chat.markIsRecording(chat); break;
        case 'paused': await WPP.chat.markIsPaused(chat); break;
        case 'online': await WPP.conn.markAvailable(true); break;
        case 'offline': await WPP.conn.markAvailable(false); break;
        default: throw new Error('unknown presence ' + state);
      }
      return true;
    },
    async subscribePresence(ids) {
      return (await WPP.contact.subscribePresence(ids)).map(widStr);
    },
    // A contact's presence as WhatsApp Web's PresenceStore has it: online,
    // else when last seen (unix s), null where it is hidden or never told.
    // With `subscribe`, one not heard yet is subscribed to (from then on it
    // is kept up to date). WhatsApp's answer comes later over the socket:
    // the daemon asks again, as its timers are not a background page's,
    // which Chromium throttles.
    async presenceOf(id, subscribe) {
      wanted('whatsapp.PresenceStore.get', 'presence store');
      let p = WPP.whatsapp.PresenceStore.get(id);
      if (subscribe && (!p || !p.hasData)) {
        await WPP.contact.subscribePresence(id);
        p = WPP.whatsapp.PresenceStore.get(id);
      }
      const known = !!(p && p.hasData);
      const t = known && p.chatstate ? Number(p.chatstate.t) : NaN;
      return {
        id, online: known && !!p.isOnline,
        // WhatsApp tells it in seconds; a stamp in ms is read as such.
        last_seen: known && !p.isOnline && t > 0 ? Math.floor(t > 1e12 ? t / 1000 : t) : null,
        known,
      };
    },
    // What WhatsApp tells of a contact; what it keeps private is null.
    async profile(id) {
      const quiet = (p) => p.then((v) => v, () => null);
      const [about, picture, business] = await Promise.all([
        quiet(WPP.contact.getStatus(id)), quiet(WPP.contact.getProfilePictureUrl(id)), quiet(WPP.contact.getBusinessProfile(id)),
      ]);
      const aboutText = about && typeof about === 'object' ? about.status : about;
      return { id, about: aboutText || null, picture_url: picture || null, business: businessInfo(business), blocked: WPP.blocklist.isBlocked(id) };
    },
    // What this account shows of itself: its name, about and picture; a
    // business account's business profile (null for another).
    async myProfile() {
      const mine = me();
      if (!mine) throw new Error('WhatsApp is not connected');
      const quiet = (p) => p.then((v) => v, () => null);
      const biz = WPP.profile.isBusiness();
      const [about, picture, business] = await Promise.all([
        quiet(WPP.profile.getMyStatus()), quiet(WPP.contact.getProfilePictureUrl(mine.id)),
        // Not quiet: a business profile WhatsApp did not give is no empty one.
        biz ? WPP.contact.getBusinessProfile(mine.id) : null,
      ]);
      const aboutText = about && typeof about === 'object' ? about.status : about;
      return {
        id: mine.id, name: mine.name, about: aboutText || null, picture_url: picture || null,
        business: biz ? businessInfo(business || {}, true) : null,
      };
    },
    // change: {name?, about?, picture?: a data URL, or null to remove it,
    // business?: {description?, address?, email?, website?: [url]}}.
    // The picture first, then the business profile: WhatsApp Web may
    // still refuse either, and then nothing else has changed. A business
    // account's name is WhatsApp's to set (NAME_NOT_SETTABLE, 409); only a
    // business account has a business profile (NOT_BUSINESS, 409), even
    // one asked with nothing to change.
    async setMyProfile(change) {
      if (change.name != null && WPP.profile.isBusiness()) throw new Error('NAME_NOT_SETTABLE: a business account\'s name is set in WhatsApp Business');
      if (change.business && !WPP.profile.isBusiness()) throw new Error('NOT_BUSINESS: this account is no WhatsApp Business account: it has no business profile');
      if (change.picture === null) {
        const mine = me();
        const had = mine && (await WPP.contact.getProfilePictureUrl(mine.id).catch(() => null));
        if (had && !(await WPP.profile.removeMyProfilePicture())) throw new Error('WhatsApp did not remove the profile picture');
      } else if (change.picture != null) {
        const r = await WPP.profile.setMyProfilePicture(change.picture);
        if (!r || r.status !== 200) throw new Error('WhatsApp did not take the profile picture (status ' + (r && r.status) + ')');
      }
      if (change.business) await editBusiness(change.business);
      if (change.about != null) await WPP.profile.setMyStatus(change.about);
      if (change.name != null) {
        await WPP.profile.setMyProfileName(change.name);
        const now = me();
        if (now && now.name) shownName = now.name;
        emit({ type: 'me_changed', me: now });
      }
      return true;
    },
    // The people WhatsApp Web knows (its ContactStore, without groups or
    // this account): the address book's, with their saved names, and
    // everyone it has heard from. WhatsApp Web may keep a person under
    // both their phone and their privacy id: listed once, by phone.
    async contacts() {
      const out = new Map();
      for (const c of await WPP.contact.list()) {
        if (!c || !c.id || !(c.id.server === 'c.us' || c.id.server === 'lid') || c.isMe) continue;
        const info = contactInfo(c);
        const twin = out.get(info.id);
        out.set(info.id, twin ? sameContact(twin, info) : info);
      }
      return [...out.values()];
    },
    // The privacy id and the phone WhatsApp pairs for a person, by either
    // (what WhatsApp makes knowable: a hidden phone stays null). wa-js
    // hands a phone back as it was given: one not on WhatsApp pairs with
    // nothing.
    async lidAndPhone(id) {
      const entry = await WPP.contact.getPnLidEntry(id);
      const lid = (entry && widStr(entry.lid)) || null;
      let phone = (entry && phoneOf(entry.phoneNumber)) || null;
      if (!lid && phone && !(await WPP.contact.queryWidExists(id))) phone = null;
      return { lid, phone };
    },
    // One person, with their privacy id's twin where WhatsApp Web has
    // one; null for one it does not know.
    async contact(id) {
      const quiet = (p) => Promise.resolve(p).then((v) => v, () => null);
      const c = await quiet(WPP.contact.get(id));
      const entry = await quiet(WPP.contact.getPnLidEntry(id));
      const lid = entry && entry.lid && widStr(entry.lid) !== id ? await quiet(WPP.contact.get(entry.lid)) : null;
      const found = [c, lid].filter((x) => x && !x.isMe).map(contactInfo);
      if (!found.length) return null;
      const one = found.reduce(sameContact);
      if (!one.phone && entry && entry.phoneNumber) { one.phone = phoneOf(entry.phoneNumber); one.id = one.phone ? one.phone + '@c.us' : one.id; }
      return one;
    },
    async saveContact(id, first, last, phoneBook) {
      const c = await WPP.contact.save(id, first, { lastName: last || '', syncAddressBook: phoneBook });
      // WhatsApp Web may apply the address book's change after answering:
      // the name given until its model shows it.
      const info = contactInfo(c || { id });
      if (!info.saved) Object.assign(info, { saved: true, name: [first, last].filter(Boolean).join(' '), short_name: first });
      return info;
    },
    // WhatsApp Web may keep a saved person under their privacy id only:
    // that twin is removed then.
    async removeContact(id) {
      const notSaved = (e) => e && (e.code === 'contact_not_found' || e.code === 'number_is_not_your_contact');
      try {
        await WPP.contact.remove(id);
      } catch (e) {
        if (!notSaved(e)) throw e;
        const entry = await WPP.contact.getPnLidEntry(id).catch(() => null);
        const lid = entry && entry.lid && widStr(entry.lid);
        if (!lid || lid === id) throw new Error('CONTACT_NOT_SAVED: ' + id + ' is not in the address book');
        await WPP.contact.remove(lid).catch((e2) => {
          throw notSaved(e2) ? new Error('CONTACT_NOT_SAVED: ' + id + ' is not in the address book') : e2;
        });
      }
      return true;
    },
    // Everyone this account blocked, as WhatsApp syncs the list.
    blocked() {
      return WPP.blocklist.all().map(widStr);
    },
    // Declines a call that rings; the daemon maps the prefixes to 404 and
    // 409. wa-js answers true once the decline is sent.
    async rejectCall(id) {
      try {
        return await WPP.call.reject(id);
      } catch (e) {
        if (e && e.code === 'call_not_found') throw new Error('CALL_NOT_FOUND: no call ' + id + ' rings here');
        if (e && e.code === 'call_is_not_incoming_ring') throw new Error('CALL_NOT_RINGING: call ' + id + ' no longer rings');
        throw e;
      }
    },
    async block(id, yes) {
      // wa-js answers whether the person is blocked now.
      const r = yes ? await WPP.blocklist.blockContact(id) : await WPP.blocklist.unblockContact(id);
      if (r && typeof r.isBlocked === 'boolean' && r.isBlocked !== !!yes) throw new Error('WhatsApp did not ' + (yes ? 'block ' : 'unblock ') + id);
      return true;
    },
    // A community's parent group is no group one writes in: it is listed
    // as a community.
    async groups() {
      const list = await WPP.group.getAllGroups();
      return list.filter((c) => c && !(c.groupMetadata && c.groupMetadata.isParentGroup)).map(groupInfo);
    },
    async communities() {
      communitiesWanted();
      await WPP.group.getAllGroups();
      return WPP.whatsapp.GroupMetadataStore.getModelsArray().filter(isMyCommunity).map(communityInfo);
    },
    // With its members: those of its announcement group, which holds
    // everyone in the community.
    async community(id) {
      const info = communityInfo(myCommunity(id));
      const ps = info.announcement_group ? await WPP.group.getParticipants(info.announcement_group) : [];
      return Object.assign(info, { participants: ps.map(participant) });
    },
    async createCommunity(name, desc, groups) {
      communitiesWanted();
      const r = await WPP.community.create(name, desc, groups);
      return Object.assign({ id: widStr(r.wid) }, linkOutcome(r.subGroups));
    },
    async linkGroups(id, groups) {
      myCommunity(id);
      return linkOutcome(await asCommunityAdmin(() => WPP.community.addSubgroups(id, groups)));
    },
    async unlinkGroups(id, groups) {
      myCommunity(id);
      return linkOutcome(await asCommunityAdmin(() => WPP.community.removeSubgroups(id, groups)));
    },
    async deactivateCommunity(id) {
      myCommunity(id);
      await asCommunityAdmin(() => WPP.community.deactivate(id), 'NOT_CREATOR');
      return true;
    },
    // yes: make them the community's admins; else members again (wa-js
    // answers a refused demotion rather than throwing it).
    async setCommunityAdmins(id, participants, yes) {
      myCommunity(id);
      await asCommunityAdmin(async () => {
        const r = yes ? await WPP.community.promoteParticipants(id, participants) : await WPP.community.demoteParticipants(id, participants);
        if (r && r.success === false) throw r.error || new Error('WhatsApp did not make them members again');
      }, 'COMMUNITY_CREATOR');
      return true;
    },
    // Exit a community: its groups and its announcement group, as
    // WhatsApp's "Exit community" (a leave of its parent group).
    async leaveCommunity(id) {
      myCommunity(id);
      await asCommunityAdmin(() => WPP.group.leave(id));
      return true;
    },
    async group(id) {
      const found = await myGroup(id);
      const participants = await WPP.group.getParticipants(id);
      return Object.assign(groupInfo(found), { participants: participants.map(participant) });
    },
    // The group's id, and what WhatsApp said of each person named.
    async createGroup(subject, participants) {
      let r;
      try {
        r = await WPP.group.create(subject, participants, undefined);
      } catch (e) {
        // wa-js asks WhatsApp about each one first, and names who is not.
        if (e && e.code === 'participant_not_exists' && e.id) throw new Error((phoneOf(e.id) || widStr(e.id)) + ' is not on WhatsApp');
        throw e;
      }
      return { id: widStr(r.gid), added: addOutcomes(r.participants) };
    },
    // What WhatsApp said of each person: wa-js answers it per person
    // rather than throwing for those it did not add.
    async addParticipants(id, participants) {
      plainGroup(await myGroup(id), id);
      return addOutcomes(await asMember(() => WPP.group.addParticipants(id, participants)));
    },
    async removeParticipants(id, participants) {
      plainGroup(await myGroup(id), id);
      try {
        await asMember(() => WPP.group.removeParticipants(id, participants));
      } catch (e) {
        // wa-js leaves out those not in the group, and refuses a call that
        // names none in it: nothing to do, as asked.
        if (e && e.code === 'not_valid_group_participants') return true;
        // It may not remove the group's creator.
        if (e && e.code === 'group_participant_is_not_a_group_member') throw new Error("the group's creator cannot be removed from " + id);
        throw e;
      }
      return true;
    },
    // yes: make them admins; else make them members again. Those already
    // so are left out: wa-js refuses the whole call for one of them.
    async setAdmins(id, participants, yes) {
      plainGroup(await myGroup(id), id);
      const now = new Map((await WPP.group.getParticipants(id)).map((p) => [widStr(p.id), !!(p.isAdmin || p.isSuperAdmin)]));
      // A group that lists members by privacy id: a phone is looked up by
      // its twin (wa-js refuses the whole call if one is in the role
      // already).
      const role = async (p) => {
        if (now.has(p)) return now.get(p);
        const e = await Promise.race([
          Promise.resolve().then(() => WPP.contact.getPnLidEntry(p)).catch(() => null),
          new Promise((resolve) => setTimeout(() => resolve(null), 2000)),
        ]);
        const twin = e && widStr(p.endsWith('@lid') ? e.phoneNumber : e.lid);
        return twin ? now.get(twin) : undefined;
      };
      const todo = [];
      for (const p of participants) if ((await role(p)) !== yes) todo.push(p);
      if (!todo.length) return true;
      await asMember(() => (yes ? WPP.group.promoteParticipants(id, todo) : WPP.group.demoteParticipants(id, todo)));
      return true;
    },
    async inviteCode(id) {
      await myGroup(id);
      return String(await WPP.group.getInviteCode(id));
    },
    async iAmAdmin(id) {
      await myGroup(id);
      return !!(await WPP.group.iAmAdmin(id));
    },
    // WhatsApp Channels the account runs or follows, newest first.
    async channels() {
      const list = (await WPP.chat.list({ onlyNewsletter: true })).map(channelInfo).filter((c) => c.role !== 'guest');
      return list.sort((a, b) => (b.created || 0) - (a.created || 0));
    },
    async channel(id) {
      return myChannel(id, false);
    },
    async createChannel(name, description, picture) {
      const opts = {};
      if (description) opts.description = description;
      if (picture) opts.picture = picture;
      const r = await WPP.newsletter.create(name, opts);
      // WhatsApp Web may hold the new channel's chat only a moment after:
      // else wa-js's answer.
      const c = await channelSoon(r.idJid, (i) => i.role === 'owner');
      return c || {
        id: r.idJid, name: String(r.name || name), description: String(r.description || ''), invite: r.inviteCode || null, role: 'owner',
        subscribers: Number(r.subscribersCount) || 0, created: Number(r.timestamp) || null, muted: false,
      };
    },
    // change: {name?, description?, picture?} (a data URL, or null to take
    // it away). wa-js 4.6's edit takes the picture away whenever none is
    // given (it sets editPicture with a null picture): the one the channel
    // has is read here and given again. One it has but that cannot be read
    // is not lost: the change is refused instead.
    async editChannel(id, change) {
      const c = myChannel(id, true);
      const opts = {};
      for (const k of ['name', 'description', 'picture']) if (k in change) opts[k] = change[k];
      if (!('picture' in change)) {
        const url = await WPP.contact.getProfilePictureUrl(id).catch(() => null);
        const kept = url ? await pictureAsDataUrl(url).catch(() => null) : null;
        if (kept) opts.picture = kept;
        else if (url || c.has_picture) throw new Error('PICTURE_AT_RISK: WhatsApp Web would take the channel\'s picture away with this change, and it could not be read to give again; give the picture too');
      }
      await WPP.newsletter.edit(id, opts);
      return myChannel(id, false);
    },
    async deleteChannel(id) {
      const c = myChannel(id, true);
      if (c.role !== 'owner') throw new Error('NOT_CHANNEL_ADMIN: only the channel\'s owner may delete it');
      if (!(await WPP.newsletter.destroy(id))) throw new Error('REFUSED: WhatsApp did not delete channel ' + id);
      return true;
    },
    // Follows or unfollows; the one who runs it does neither. Answers the
    // channel after, or null once unfollowed. wa-js follows and unfollows
    // by WhatsApp's server, and WhatsApp Web's list of channels may catch up
    // a moment later: a follow waits for it (up to 5 s), and an unfollow
    // goes to WhatsApp even where the list does not show the channel
    // followed (then a refusal means there was nothing to undo).
    async followChannel(id, on) {
      const c = WPP.chat.get(id);
      const role = c && c.isNewsletter ? channelInfo(c).role : 'guest';
      if (role === 'owner' || role === 'admin') throw new Error('CHANNEL_ADMIN: the account runs channel ' + id + ', so it neither follows nor unfollows it');
      if (on) {
        if (role !== 'subscriber') await channelCall(() => WPP.newsletter.follow(id));
        return (await channelSoon(id, (i) => i.role === 'subscriber')) || {
          id, name: c && c.name ? String(c.name) : '', description: '', invite: null, role: 'subscriber', subscribers: null, created: null, muted: false,
        };
      }
      if (role === 'subscriber') await channelCall(() => WPP.newsletter.unfollow(id));
      else await WPP.newsletter.unfollow(id).catch(() => null);
      return null;
    },
    async muteChannel(id, on) {
      const c = myChannel(id, false);
      if (c.role !== 'subscriber') throw new Error('CHANNEL_ADMIN: the account runs channel ' + id + '; a follower mutes one');
      if (c.muted !== on) await WPP.newsletter.mute(id, on);
      return myChannel(id, false);
    },
    // The directory: channels whose name matches, a page at a time.
    async searchChannels(query, limit, cursor) {
      const opts = { limit };
      if (cursor) opts.cursorToken = cursor;
      const r = await channelCall(() => WPP.newsletter.search(query, opts));
      const mine = new Map((await WPP.chat.list({ onlyNewsletter: true })).map((c) => [widStr(c.id), channelInfo(c)]));
      return {
        channels: (r.newsletters || []).map((n) => {
          const own = mine.get(n.idJid);
          return {
            id: n.idJid, name: n.name || '', description: n.description || '', invite: n.inviteCode || null,
            role: own ? own.role : 'guest', subscribers: Number(n.subscribersCount) || 0, created: n.creationTime || null,
            muted: own ? own.muted : false, verified: n.verification === 'VERIFIED',
          };
        }),
        next: (r.pageInfo && r.pageInfo.hasNextPage && r.pageInfo.endCursor) || null,
      };
    },
    // A business account's customer note on a person's chat (null: none).
    async note(chat) {
      return noteInfo(await notesCall(() => WPP.chat.getNotes(chat)));
    },
    async setNote(chat, content) {
      return noteInfo(await notesCall(() => WPP.chat.setNotes(chat, content)));
    },
    // A business account's labels, with the palette a colour comes from.
    async labels() {
      return asBusiness(async () => ({
        labels: (await WPP.labels.getAllLabels()).map(labelInfo),
        palette: await WPP.labels.getLabelColorPalette(),
      }));
    },
    // Without a colour, one no label has yet (wa-js's own pick fails
    // when that is the palette's first), as a hex: a hex of the first
    // colour is taken where its index would not be.
    async addLabel(name, color) {
      return asBusiness(async () => {
        if (!color) {
          const [palette, all] = await Promise.all([WPP.labels.getLabelColorPalette(), WPP.labels.getAllLabels()]);
          const used = new Set(all.map((l) => l.hexColor));
          color = palette.find((c) => !used.has(c)) || palette[all.length % palette.length];
        }
        return labelInfo(await WPP.labels.addNewLabel(name, { labelColor: color }));
      });
    },
    // wa-js keeps the old colour where the new one is the palette's first
    // (`color || old`): said, not silently ignored.
    async editLabel(id, name, color) {
      return asBusiness(async () => {
        const opts = {};
        if (name) opts.name = name;
        if (color) {
          const palette = await WPP.labels.getLabelColorPalette();
          const now = await WPP.labels.getLabelById(id);
          if (color === palette[0] && now.hexColor !== color) throw new Error('BAD_COLOR: WhatsApp Web cannot give a label the palette\'s first colour once it has another');
          opts.labelColor = color;
        }
        return labelInfo(await WPP.labels.editLabel(id, opts));
      });
    },
    // Deleted, it comes off its chats: each is told, as a change on them.
    async deleteLabel(id) {
      return asBusiness(async () => {
        const label = labelInfo(await WPP.labels.getLabelById(id));
        const on = (await WPP.chat.list()).filter((c) => Array.isArray(c.labels) && c.labels.map(String).includes(String(id)));
        const r = await WPP.labels.deleteLabel(id);
        if (!r || !r.deleteLabelResult) throw new Error('LABEL_NOT_FOUND: no label ' + id);
        for (const c of on) emitInOrder({ type: 'labels', chat: widStr(c.id), action: 'remove', labels: [label], ids: [String(id)] });
        return true;
      });
    },
    // Puts a label on chats and takes it off others; every chat is checked
    // first, so one the account lacks changes nothing.
    async labelChats(id, add, remove) {
      return asBusiness(async () => {
        await WPP.labels.getLabelById(id);
        for (const c of [...add, ...remove]) if (!WPP.chat.get(c)) throw new Error('CHAT_NOT_FOUND: this account has no chat ' + c);
        if (add.length) await WPP.labels.addOrRemoveLabels(add, { labelId: id, type: 'add' });
        if (remove.length) await WPP.labels.addOrRemoveLabels(remove, { labelId: id, type: 'remove' });
        return labelInfo(await WPP.labels.getLabelById(id));
      });
    },
    // Who asks to join a group we run (admins only, as WhatsApp answers).
    async joinRequests(id) {
      plainGroup(await myGroup(id), id);
      if (!(await WPP.group.iAmAdmin(id))) throw new Error('ONLY_ADMINS: only group admins can see the requests to join ' + id);
      const list = await WPP.group.getMembershipRequests(id);
      return list.map((r) => ({
        id: widStr(r.id), added_by: widStr(r.addedBy) || null, method: r.requestMethod || null, timestamp: r.t || null,
      }));
    },
    // Approves or rejects requests to join: per id, the error WhatsApp
    // gave, or null.
    async answerJoinRequests(id, ids, approve) {
      plainGroup(await myGroup(id), id);
      if (!(await WPP.group.iAmAdmin(id))) throw new Error('ONLY_ADMINS: only group admins can answer requests to join ' + id);
      const done = approve ? await WPP.group.approve(id, ids) : await WPP.group.reject(id, ids);
      return done.map((d) => ({ id: widStr(d.wid), error: d.error == null ? null : String(d.error) }));
    },
    // A new invite code; the old link stops working (admins only).
    async revokeInvite(id) {
      await myGroup(id);
      // wa-js skips its own check where any member may add people.
      if (!(await WPP.group.iAmAdmin(id))) throw new Error('ONLY_ADMINS: only group admins can reset the invite link of ' + id);
      return String(await WPP.group.revokeInviteCode(id));
    },
    // What an invite shows before joining: the group, its people.
    async inviteInfo(code) {
      // wa-js reads any failure of the query as an invalid code.
      if (!canSend()) throw new Error('WhatsApp is not connected');
      let g;
      try {
        g = await WPP.group.getGroupInfoFromInviteCode(code);
      } catch (e) {
        // The daemon maps this to 404 invite_not_found.
        if (e && e.code === 'invalid_invite_code') throw new Error('the invite link is not valid');
        throw e;
      }
      return {
        id: widStr(g.id), subject: g.subject || null, owner: widStr(g.owner) || null,
        created: typeof g.creation === 'number' ? g.creation : null, participants: (g.participants || []).map(participant),
        description: g.desc || null, announce: !!g.announce, restrict: !!g.restrict,
        // The preview may list only some of them.
        size: typeof g.size === 'number' ? g.size : (g.participants || []).length,
      };
    },
    // Where the group's admins approve who joins, a join is a request.
    async joinGroup(code) {
      const r = await WPP.group.join(code);
      return { id: widStr(r.id), pending: !!r.pendingApproval };
    },
    async setSubject(id, subject) {
      await groupOrCommunity(id);
      await asMember(() => WPP.group.setSubject(id, subject));
      return true;
    },
    async setDescription(id, desc) {
      await groupOrCommunity(id);
      await asMember(() => WPP.group.setDescription(id, desc));
      return true;
    },
    // property: 'announcement' (only admins send) or 'restrict' (only
    // admins change the subject and description).
    async setGroupProperty(id, property, on) {
      await myGroup(id);
      await asMember(() => WPP.group.setProperty(id, property, !!on));
      return true;
    },
    // Disappearing messages: 0 (off), 86400, 604800 or 7776000 seconds.
    async setGroupEphemeral(id, secs) {
      await myGroup(id);
      await asMember(() => WPP.group.setProperty(id, 'ephemeral', secs));
      return true;
    },
    // picture: a data URL, or null to remove it. A picture WhatsApp does
    // not take is an error.
    async setGroupPicture(id, picture) {
      await groupOrCommunity(id);
      if (picture === null) {
        // wa-js answers WhatsApp's refusal as false (it checks no rights
        // itself); a group with no picture left is what was asked.
        if (!(await asMember(() => WPP.group.removeIcon(id)))) {
          const still = await WPP.contact.getProfilePictureUrl(id).catch(() => null);
          if (still) {
            if (!(await WPP.group.iAmAdmin(id).catch(() => false))) throw new Error('ONLY_ADMINS: only admins may change the picture of ' + id);
            throw new Error('WhatsApp did not remove the picture of ' + id);
          }
        }
      } else {
        const r = await asMember(() => WPP.group.setIcon(id, picture));
        if (!r || r.status !== 200) throw new Error('WhatsApp did not take the group picture (status ' + (r && r.status) + ')');
      }
      return true;
    },
    async leaveGroup(id) {
      plainGroup(await myGroup(id), id);
      await WPP.group.leave(id);
      return true;
    },
    exists,
    async markRead(chat) {
      try {
        await WPP.chat.markIsRead(chat);
      } catch (e) {
        // wa-js's assertGetChat: a chat this account does not have.
        if (e && e.code === 'chat_not_found') throw new Error('CHAT_NOT_FOUND: ' + e.message);
        throw e;
      }
      return true;
    },
    async chats() {
      const list = await WPP.chat.list();
      return list.map(chatInfo);
    },
    // One chat, as `chats` lists it, without listing them all (a bot asks
    // for the chat of each message); CHAT_NOT_FOUND for one the account
    // does not have.
    async chat(id) {
      const c = WPP.chat.get(id);
      if (!c) throw new Error('CHAT_NOT_FOUND: ' + id);
      return chatInfo(c);
    },
    // change: {archive?, pin?, muteUntil?, unread?} (unix s; 0 unmutes, -1 mutes
    // always); answers the chat as it is after. What is so already is left
    // alone (wa-js throws for it). The daemon maps the prefixes to 404 and
    // 409.
    async setChatState(id, change) {
      const c = WPP.chat.get(id);
      if (!c) throw new Error('CHAT_NOT_FOUND: ' + id);
      // Checked before anything changes: WhatsApp Web may not refuse a
      // fourth pin itself (whatsapp-web.js counts them too).
      if (change.pin === true && !c.pin && (await WPP.chat.list()).filter((x) => x.pin).length >= MAX_PINNED) {
        throw new Error('PIN_LIMIT: WhatsApp pins at most ' + MAX_PINNED + ' chats; unpin one first');
      }
      const info = chatInfo(c);
      if (change.archive != null && !!c.archive !== change.archive) {
        await WPP.chat.archive(id, change.archive);
        info.archived = change.archive;
      }
      if (change.pin != null && !!c.pin !== change.pin) {
        await WPP.chat.pin(id, change.pin);
        info.pinned = change.pin;
      }
      if (change.muteUntil === 0) {
        if (mutedUntil(c)) await WPP.chat.unmute(id);
        info.muted_until = null;
      } else if (change.muteUntil != null) {
        await WPP.chat.mute(id, { expiration: change.muteUntil === -1 ? ALWAYS : change.muteUntil });
        info.muted_until = change.muteUntil;
      }
      if (change.unread === true) {
        await WPP.chat.markIsUnread(id);
        info.marked_unread = true;
      } else if (change.unread === false) {
        await WPP.chat.markIsRead(id);
        info.marked_unread = false;
        info.unread = 0;
      }
      // As asked, once WhatsApp Web took it: its model may catch up later.
      return info;
    },
    // A chat's messages before message `before` (the newest, without it):
    // `count` of them that are messages (notices and the like left out),
    // oldest first, and whether WhatsApp Web may hold older ones still
    // (`more`); `missing` when it has no such chat or message now. Its
    // history as WhatsApp Web holds it, older than the link too.
    async history(chat, before, count) {
      const out = [];
      let anchor = before || null;
      let more = true;
      // Batches of 20 at least: a run of notices does not end the search.
      for (let round = 0; round < 5 && more && out.length < count; round++) {
        const want = Math.max(count - out.length, 20);
        let msgs;
        try {
          msgs = await WPP.chat.getMessages(chat, anchor ? { count: want, id: anchor, direction: 'before' } : { count: want });
        } catch (e) {
          if (e && (e.code === 'chat_not_found' || e.code === 'msg_not_found')) return { msgs: [], more: false, missing: true };
          throw e;
        }
        more = msgs.length >= want;
        if (!msgs.length) break;
        anchor = widStr(msgs[0].id);
        // Arrived in the last minute: news, whose event may be on its way.
        const batch = msgs.map(normalize).filter((m) => m && !arrived.has(m.id));
        out.unshift(...batch);
      }
      // The newest `count`; the rest come again in the next batch.
      const kept = out.slice(-count);
      // Privacy ids' phones looked up side by side, each bounded.
      return { msgs: await Promise.all(kept.map(withPhone)), more: more || out.length > count, missing: false };
    },
    // Messages newer than `since` (unix s) in every chat, oldest first, for
    // catching up after a reconnect: as they are now (their ack, their
    // last edit), deleted ones as `{id, chat, revoked: true}`. Back to
    // `statesSince`, older ones too, only for what may have changed on
    // them: this account's with their ack, deleted ones as above.
    async recent(since, perChat, statesSince) {
      const from = Math.min(since, statesSince || since);
      const out = [];
      // Chats quiet since `since` are read for states only, and boundedly:
      // the newest 50 messages of at most 100 of them.
      let quiet = 0;
      for (const c of await WPP.chat.list()) {
        // A chat whose last activity is older than that has nothing newer.
        if (c.t && c.t < from) continue;
        const isQuiet = c.t && c.t < since;
        if (isQuiet && ++quiet > 100) continue;
        const count = isQuiet ? Math.min(perChat || 100, 50) : perChat || 100;
        const msgs = await WPP.chat.getMessages(widStr(c.id), { count });
        for (const m of msgs) {
          const t = m.t || 0;
          if (t < from || !m.id) continue;
          if (m.type === 'revoked') {
            out.push({ id: widStr(m.id), chat: widStr(m.id.remote), revoked: true, timestamp: t });
          } else if (t >= since) {
            const n = normalize(m);
            if (n) out.push(await withPhone(n));
          } else if (m.id.fromMe && typeof m.ack === 'number') {
            out.push({ id: widStr(m.id), chat: widStr(m.id.remote), ack: m.ack, states_only: true, timestamp: t });
          }
        }
      }
      out.sort((a, b) => a.timestamp - b.timestamp);
      return out;
    },
    // The reactions and poll votes WhatsApp Web keeps on messages since
    // `since` (unix s): a report that died with the browser or the daemon
    // is in them. Newest messages first, at most `most` of them, a few
    // looked up at a time, for at most `budgetMs`: what it found by then,
    // and whether that was all. `known`: messages the daemon has
    // reactions on, looked up too, so one taken back shows gone (WhatsApp
    // Web then says the message has no reaction).
    async reacted(since, budgetMs, most, known) {
      const until = Date.now() + budgetMs;
      const todo = [];
      for (const c of await WPP.chat.list()) {
        if (c.t && c.t < since) continue;
        for (const m of await WPP.chat.getMessages(widStr(c.id), { count: 100 })) {
          if ((m.t || 0) >= since && m.id && m.type !== 'revoked' && (m.hasReaction || m.type === 'poll_creation')) todo.push(m);
        }
        if (Date.now() > until) break;
      }
      todo.sort((a, b) => (b.t || 0) - (a.t || 0));
      let complete = todo.length <= most;
      todo.length = Math.min(todo.length, most);
      const looked = new Set(todo.map((m) => widStr(m.id)));
      for (const id of known || []) {
        if (!looked.has(id)) todo.push({ id, hasReaction: true, byDaemon: true });
      }
      const items = [];
      let next = 0;
      const worker = async () => {
        while (next < todo.length && Date.now() < until) {
          const m = todo[next++];
          const id = widStr(m.id);
          const chat = m.byDaemon ? null : widStr(m.id.remote);
          // One the daemon knows that WhatsApp Web no longer has (cleared,
          // deleted on the phone) or that was deleted says nothing of its
          // reactions: left out, not answered with none.
          if (m.byDaemon) {
            const had = await WPP.chat.getMessageById(id).catch(() => null);
            if (!had || had.type === 'revoked') continue;
          }
          if (m.hasReaction) {
            const r = await WPP.chat.getReactions(id).catch(() => null);
            if (r) items.push({ id, chat, reactions: reactionRows(r) });
          }
          if (m.type === 'poll_creation') {
            const v = await WPP.chat.getVotes(id).catch(() => null);
            if (v && v.votes && v.votes.length) items.push({ id, chat, votes: voteRows(v) });
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      if (next < todo.length) complete = false;
      return { items, complete };
    },
    async downloadMedia(id, max) {
      const blob = await WPP.chat.downloadMedia(id);
      // Refused before it is copied twice more (bytes, then base64) and
      // sent over DevTools: the daemon keeps none larger. The daemon maps
      // the prefix.
      if (max && blob.size > max) throw new Error('TOO_LARGE: ' + blob.size + ' bytes');
      return blobToBase64(blob);
    },
    // WhatsApp Web keeps every message it has loaded in memory for the life
    // of the page (its Msg collection): the page grows with the traffic.
    // Messages written before `before` (unix s), which the daemon has
    // stored, are dropped from it, as open-wa's cutMsgCache does; WhatsApp
    // Web keeps them in IndexedDB.
    loadedMessages() {
      return WPP.whatsapp.MsgStore.length;
    },
    trimMessages(before) {
      const now = Date.now();
      for (const [id, at] of arrived) if (now - at > KEEP_ARRIVED_MS) arrived.delete(id);
      const store = WPP.whatsapp.MsgStore;
      // wa-js's getMessages anchors on a chat's last message and gives it
      // back only from memory: each chat's last message stays.
      const lastOf = new Map();
      const isLast = (m) => {
        const chat = widStr(m.id.remote);
        if (!lastOf.has(chat)) {
          let c = null;
          try { c = WPP.chat.get(chat); } catch (e) { c = null; }
          lastOf.set(chat, (c && widStr(c.lastReceivedKey)) || null);
        }
        return lastOf.get(chat) === widStr(m.id);
      };
      const old = store.getModelsArray().filter((m) => typeof m.t === 'number' && m.t < before
        && !arrived.has(widStr(m.id)) && !isLast(m));
      if (old.length) store.remove(old);
      return { removed: old.length, left: store.length };
    },
    // A page restored from storage says "authenticated" before its socket
    // is up; logging out then would only forget the link here. Wait
    // (bounded) until WhatsApp is reachable, so the phone drops the device.
    async logout() {
      // Bounded in time, not in tries: a background page's timers are slow.
      const until = Date.now() + 10000;
      while (!WPP.conn.isOnline() && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      return WPP.conn.logout();
    },
    // Link by phone number: the 8-character code the user types into
    // WhatsApp on that phone (Linked devices → Link with phone number).
    async pairCode(phone) {
      return String(await WPP.conn.genLinkDeviceCodeForPhoneNumber(phone, true));
    },
  };
})();
