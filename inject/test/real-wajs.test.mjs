// bridge.js against WPP as real wa-js behaves where the sandbox page is
// simpler or cannot show it (wa-js 4.6.0's sources are the reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenPage, turns } from './page.mjs';

const ME = { _serialized: '15550002222@c.us', user: '15550002222', server: 'c.us' };

// A page that is linked and has said CONNECTED.
async function connectedPage(extra = {}) {
  const page = hiddenPage({
    conn: {
      isAuthenticated: () => true, isIdle: () => false, isOnline: () => true, getMyUserId: () => ME,
      getStreamData: () => ({ mode: 'MAIN' }), getPlatform: () => 'android',
    },
    profile: { getMyProfileName: () => 'Shop' },
    ...extra,
  });
  await turns(3);
  page.handlers.get('conn.stream_mode_changed')('MAIN');
  await turns(5);
  assert.ok(page.sent.some((e) => e.type === 'connected'), 'connected');
  page.sent.length = 0;
  return page;
}

// wa-js gives MsgModel a quotedMsgId getter that throws on a message that
// is no reply (getQuotedMsgKey), and real models inherit it.
const MSG_PROTO = Object.defineProperty({}, 'quotedMsgId', {
  get() {
    if (!this.quotedStanzaID) throw new Error('Message ' + this.id._serialized + ' does not have a reply');
    return { _serialized: 'true_15550001111@c.us_' + this.quotedStanzaID };
  },
});
const model = (fields) => Object.assign(Object.create(MSG_PROTO), fields);
const from = (n, extra = {}) => model({
  id: { fromMe: false, remote: '15550001111@c.us', _serialized: `false_15550001111@c.us_M${n}` },
  type: 'chat', body: `hello ${n}`, from: '15550001111@c.us', to: ME._serialized, t: 1700000000 + n, ...extra,
});

test('a plain message and a reply pass through a model whose quotedMsgId throws', async () => {
  const page = await connectedPage();
  const onMessage = page.handlers.get('chat.new_message');
  onMessage(from(1));
  onMessage(from(2, { quotedStanzaID: 'Q1', quotedParticipant: ME._serialized }));
  await turns(10);
  const msgs = page.sent.filter((e) => e.type === 'message').map((e) => [e.msg.text, e.msg.reply_to]);
  assert.deepEqual(msgs, [['hello 1', null], ['hello 2', 'true_15550001111@c.us_Q1']]);
});

test("a sender in the address book is named as saved there (MsgModel's senderObj); others, and a getter that throws, are not", async () => {
  const page = await connectedPage();
  const onMessage = page.handlers.get('chat.new_message');
  const contact = (fields) => ({ id: { _serialized: '15550001111@c.us' }, ...fields });
  onMessage(from(1, { notifyName: 'Al', senderObj: contact({ isMyContact: true, name: 'Alan Smith', shortName: 'Alan' }) }));
  onMessage(from(2, { notifyName: 'Al', senderObj: contact({ isMyContact: false, pushname: 'Al' }) }));
  onMessage(Object.defineProperty(from(3, { notifyName: 'Al' }), 'senderObj', { get() { throw new Error('no contact'); } }));
  onMessage(from(4, { id: { fromMe: true, remote: '15550001111@c.us', _serialized: 'true_15550001111@c.us_M4' }, from: ME._serialized,
    senderObj: contact({ isMyContact: true, name: 'Me' }) }));
  await turns(10);
  assert.deepEqual(page.sent.filter((e) => e.type === 'message').map((e) => [e.msg.text, e.msg.sender.name || null, e.msg.sender.saved || null]), [
    ['hello 1', 'Al', { name: 'Alan Smith', short_name: 'Alan' }],
    ['hello 2', 'Al', null],
    ['hello 3', 'Al', null],
    ['hello 4', null, null],
  ]);
});

test("WhatsApp's own notices are no messages", async () => {
  const page = await connectedPage();
  const onMessage = page.handlers.get('chat.new_message');
  onMessage(from(1, { type: 'notification' }));
  onMessage(from(2, { type: 'broadcast_notification' }));
  onMessage(from(3, { type: 'chat', isNotification: true }));
  onMessage(from(4));
  await turns(10);
  assert.deepEqual(page.sent.filter((e) => e.type === 'message').map((e) => e.msg.text), ['hello 4']);
});

test('a socket WhatsApp dropped (a stream mode, not conn.online) is offline until MAIN again', async () => {
  const page = await connectedPage();
  const mode = page.handlers.get('conn.stream_mode_changed');
  mode('OFFLINE');
  mode('SYNCING');
  await turns(5);
  mode('MAIN');
  await turns(5);
  mode('CONFLICT');
  await turns(5);
  // The network comes back; WhatsApp's socket is still another device's.
  page.handlers.get('conn.online')(true);
  await turns(5);
  assert.deepEqual(page.sent.filter((e) => e.type === 'online').map((e) => e.online), [false, true, false, false]);
});

test("a group's receipts are one member's: its ack comes from the model", async () => {
  let onAck = null;
  // WhatsApp Web's MsgStore exists only once its modules have loaded: not
  // yet when bridge.js is wired, by the time the page is authenticated.
  const whatsapp = {};
  const page = hiddenPage({
    conn: {
      isAuthenticated: () => true, isIdle: () => false, isOnline: () => true, getMyUserId: () => ME,
      getStreamData: () => ({ mode: 'MAIN' }), getPlatform: () => 'android',
    },
    profile: { getMyProfileName: () => 'Shop' },
    whatsapp,
  });
  await turns(3);
  assert.equal(onAck, null);
  whatsapp.MsgStore = { on: (name, f) => { if (name === 'change:ack') onAck = f; } };
  page.handlers.get('conn.authenticated')();
  await turns(5);
  const group = { _serialized: '120363000000000001@g.us', user: '120363000000000001', server: 'g.us' };
  const mine = 'true_120363000000000001@g.us_3EB0AA_15550002222@c.us';
  // wa-js's processSimpleACK: keyed by the member who read it.
  page.handlers.get('chat.msg_ack_change')({
    ack: 3, chat: group, sender: { _serialized: '15550001111@c.us' },
    ids: [{ _serialized: 'true_120363000000000001@g.us_3EB0AA_15550001111@c.us' }],
  });
  // A contact's receipt is keyed by the message.
  page.handlers.get('chat.msg_ack_change')({ ack: 2, chat: '15550001111@c.us', ids: [{ _serialized: 'true_15550001111@c.us_3EB0BB' }] });
  assert.ok(onAck, 'listens to MsgStore change:ack');
  onAck({ id: { fromMe: true, remote: group, _serialized: mine }, ack: 2 });
  // Not ours, not a group's, or only "sent": wa-js tells of those.
  onAck({ id: { fromMe: false, remote: group, _serialized: 'false_x' }, ack: 3 });
  onAck({ id: { fromMe: true, remote: { _serialized: '15550001111@c.us' }, _serialized: 'true_15550001111@c.us_3EB0BB' }, ack: 3 });
  onAck({ id: { fromMe: true, remote: group, _serialized: mine }, ack: 1 });
  await turns(10);
  assert.deepEqual(page.sent.filter((e) => e.type === 'ack').map((e) => [e.ids[0], e.ack]), [
    ['true_15550001111@c.us_3EB0BB', 2],
    [mine, 2],
  ]);
});

test('a forward wa-js answers as not forwarded fails clearly', async () => {
  const page = await connectedPage({
    contact: { queryWidExists: async (id) => ({ wid: { _serialized: id } }) },
    chat: {
      find: async (id) => ({ id: { _serialized: id } }),
      forwardMessages: async (to, ids) => ids.map((id) => ({ id })),
    },
  });
  await assert.rejects(
    page.window.__wabridge.forward('15550001111@c.us', 'false_15550003333@c.us_GONE', 'text', 50),
    /^Error: NOT_FORWARDABLE: false_15550003333@c.us_GONE/,
  );
});

test("a number wa-js could not ask about is no number off WhatsApp", async () => {
  let online = true;
  const page = await connectedPage({
    contact: { queryWidExists: async () => null },
    conn: {
      isAuthenticated: () => true, isIdle: () => false, isOnline: () => online, getMyUserId: () => ME,
      getStreamData: () => ({ mode: online ? 'MAIN' : 'OFFLINE' }), getPlatform: () => 'android',
    },
  });
  assert.equal(await page.window.__wabridge.exists('15550009999@c.us'), null);
  online = false;
  await assert.rejects(page.window.__wabridge.exists('15550009999@c.us'), /^Error: OFFLINE: /);
  // Back: wa-js keeps the null of a query that failed for 15 s.
  page.handlers.get('conn.online')(false);
  online = true;
  page.handlers.get('conn.online')(true);
  await assert.rejects(page.window.__wabridge.exists('15550009999@c.us'), /^Error: OFFLINE: /);
});

test("trimming the page's memory keeps each chat's last message (getMessages anchors on it)", async () => {
  const models = [from(1), from(2)];
  let removed = null;
  const page = await connectedPage({
    whatsapp: {
      MsgStore: {
        on: () => {}, getModelsArray: () => models, get length() { return models.length; },
        remove: (list) => { removed = list.map((m) => m.id._serialized); },
      },
    },
    chat: { get: () => ({ lastReceivedKey: models[1].id }) },
  });
  page.window.__wabridge.trimMessages(1750000000);
  assert.deepEqual(removed, ['false_15550001111@c.us_M1']);
});

// wa-js's downloadMedia answers a Blob; a media larger than the daemon
// keeps is refused before it is read into memory and encoded.
test('a media larger than the daemon keeps is refused before it is encoded', async () => {
  let read = 0;
  const blob = (size) => ({ size, arrayBuffer: async () => { read += 1; return new Uint8Array(size).buffer; } });
  const page = await connectedPage({ chat: { downloadMedia: async (id) => blob(id === 'big' ? 2048 : 3) } });
  await assert.rejects(page.window.__wabridge.downloadMedia('big', 1024), /^Error: TOO_LARGE: 2048 bytes/);
  assert.equal(read, 0, 'never read');
  assert.equal(await page.window.__wabridge.downloadMedia('small', 1024), 'AAAA');
});

// WhatsApp Web's communities as wa-js reads them: GroupMetadataModels whose
// ids are Wids, a parent group (isParentGroup) whose joinedSubgroups are
// Wids, its announcement group told by its derived groupType, and the
// metadata of a community left kept in the store.
test("communities are read from WhatsApp Web's group metadata; one left is gone", async () => {
  const wid = (s) => ({ _serialized: s, user: s.split('@')[0], server: s.split('@')[1], toString() { return s; } });
  const [C, A, S, L, G] = ['120363000000000001@g.us', '120363000000000002@g.us', '120363000000000003@g.us', '120363000000000004@g.us', '120363000000000005@g.us'];
  const meta = {
    [C]: { id: wid(C), subject: 'Town', desc: 'All streets', owner: wid('15550001111@c.us'), creation: 1700000000, isParentGroup: true, joinedSubgroups: [wid(A), wid(S)], groupType: 'COMMUNITY' },
    [A]: { id: wid(A), subject: 'Town', isParentGroup: false, parentGroup: wid(C), groupType: 'LINKED_ANNOUNCEMENT_GROUP', announce: true },
    [S]: { id: wid(S), subject: 'Street', isParentGroup: false, parentGroup: wid(C), groupType: 'LINKED_SUBGROUP' },
    [L]: { id: wid(L), subject: 'Left', isParentGroup: true, joinedSubgroups: [], groupType: 'COMMUNITY' },
    [G]: { id: wid(G), subject: 'Plain', isParentGroup: false, groupType: 'DEFAULT' },
  };
  const chat = (id) => ({ id: wid(id), isGroup: true, groupMetadata: meta[id] });
  const participants = [{ id: wid(ME._serialized), isAdmin: false }, { id: wid('15550001111@c.us'), isAdmin: true, isSuperAdmin: true }];
  let demoted = null;
  const page = await connectedPage({
    group: { getAllGroups: async () => [C, A, S, G].map(chat), getParticipants: async () => participants },
    chat: { find: async (id) => chat(id) },
    community: {
      create: async () => { throw new Error('not here'); },
      getAnnouncementGroup: () => wid(A),
      demoteParticipants: async (id, who) => { demoted = who; return { participants: who, success: false, error: new Error('not-authorized') }; },
    },
    whatsapp: { GroupMetadataStore: { get: (id) => meta[String(id)], getModelsArray: () => Object.values(meta) } },
  });
  const b = page.window.__wabridge;
  // (Made in the page's realm: compared as JSON.)
  const plain = (x) => JSON.parse(JSON.stringify(x));
  const list = plain(await b.communities());
  assert.deepEqual(list.map((c) => [c.id, c.name, c.announcement_group, c.groups]), [[C, 'Town', A, [{ id: S, subject: 'Street' }]]]);
  const one = plain(await b.community(C));
  assert.deepEqual(one.participants.map((p) => [p.id, p.admin]), [[ME._serialized, false], ['15550001111@c.us', true]]);
  await assert.rejects(b.community(L), /^Error: COMMUNITY_NOT_FOUND: /);
  await assert.rejects(b.community(G), /^Error: COMMUNITY_NOT_FOUND: /);
  // Groups: the community is none; its groups say where they stand.
  const groups = plain(await b.groups());
  assert.deepEqual(groups.map((g) => [g.id, g.community, g.community_announcements]), [[A, C, true], [S, C, false], [G, null, false]]);
  await assert.rejects(b.group(C), /^Error: GROUP_NOT_FOUND: /);
  // A community has no chat: a send names its announcement group.
  await assert.rejects(b.sendText(C, 'hello all'), new RegExp('^Error: COMMUNITY_CHAT: .*' + A));
  // wa-js answers a refused demotion rather than throwing it.
  await assert.rejects(b.setCommunityAdmins(C, ['15550001111@c.us'], false), /not-authorized/);
  assert.deepEqual(plain(demoted), ['15550001111@c.us']);
});

test("a chat's changes come from WhatsApp Web's ChatStore: reads and marks, not each message; a chat let go of is not deleted", async () => {
  const on = new Map();
  const models = new Map();
  const whatsapp = {
    ChatStore: {
      on: (name, f) => { on.set(name, f); },
      get: (id) => models.get(String(id && id._serialized ? id._serialized : id)),
    },
  };
  const wid = (s) => ({ _serialized: s, user: s.split('@')[0], server: s.split('@')[1] });
  // WhatsApp Web moves a chat from a phone's id to its privacy id.
  const contact = { getPnLidEntry: async (id) => (String(id) === '15550003333@c.us' ? { lid: wid('99990003333@lid'), phoneNumber: wid('15550003333@c.us') } : undefined) };
  const page = await connectedPage({ whatsapp, contact });
  // As WhatsApp Web's ChatModel: its mute a MuteModel with an expiration.
  const chat = { id: wid('15550001111@c.us'), name: 'Ann', unreadCount: 2, archive: true, pin: 0, mute: { expiration: 0 }, t: 1700000000 };
  models.set('15550001111@c.us', chat);
  on.get('change:unreadCount')(chat, 2, 1);
  on.get('change:archive')(chat, true, false);
  chat.unreadCount = 0;
  on.get('change:unreadCount')(chat, 0, 2);
  chat.unreadCount = -1;
  on.get('change:unreadCount')(chat, -1, 0);
  // A channel is no chat here.
  on.get('change:archive')({ id: wid('120363000000000009@newsletter'), archive: true }, true, false);
  // Let go of, but WhatsApp Web still has it: no deletion.
  on.get('remove')(chat);
  await turns(10);
  models.delete('15550001111@c.us');
  on.get('remove')(chat);
  // Moved to its privacy id: no deletion.
  models.set('99990003333@lid', { id: wid('99990003333@lid') });
  on.get('remove')({ id: wid('15550003333@c.us'), name: 'Moved' });
  await turns(10);
  const told = JSON.parse(JSON.stringify(page.sent.filter((e) => e.type === 'chat' || e.type === 'chat_removed')));
  assert.deepEqual(told.map((e) => [e.type, e.changed || null, e.chat || e.id]), [
    ['chat', 'archived', '15550001111@c.us'],
    ['chat', 'unread', '15550001111@c.us'],
    ['chat', 'unread', '15550001111@c.us'],
    ['chat_removed', null, '15550001111@c.us'],
  ]);
  assert.equal(told[0].archived, true);
  assert.deepEqual([told[1].unread, told[1].marked_unread], [0, false]);
  assert.deepEqual([told[2].unread, told[2].marked_unread], [0, true]);
  assert.equal(told[3].name, 'Ann');
});

test("a business profile's change is checked against the profile WhatsApp Web fetches after, as wa-js rewrites the websites it is given", async () => {
  let stored = { description: 'Old', website: [] };
  let takes = true;
  const profile = {
    getMyProfileName: () => 'Shop', isBusiness: () => true,
    // As wa-js 4.6: the caller's websites rewritten in place as {url}, then
    // the profile as WhatsApp Web fetches it after.
    editBusinessProfile: async (params) => {
      if (params.website && Array.isArray(params.website)) params.website = params.website.map((i) => ({ url: i }));
      if (takes) stored = Object.assign({}, stored, params);
      return Object.assign({ id: ME }, stored);
    },
  };
  const page = await connectedPage({ profile });
  const api = page.window.__wabridge;
  assert.equal(await api.setMyProfile({ business: { description: 'Sourdough', website: ['https://bakery.example'] } }), true);
  assert.deepEqual(JSON.parse(JSON.stringify(stored.website)), [{ url: 'https://bakery.example' }]);
  // Nothing to change: nothing asked of WhatsApp.
  takes = false;
  assert.equal(await api.setMyProfile({ business: {} }), true);
  // WhatsApp Web answers a profile without the change: an error, not a silent success.
  await assert.rejects(api.setMyProfile({ business: { email: 'hello@bakery.example' } }), /did not take the business profile's email/);
});

test('in a group that names members by privacy id, this account is named by its phone, and put in one it hears the group whole', async () => {
  const meta = {
    id: '120363000000000009@g.us', subject: 'Lid club', owner: '777@lid', creation: 1700000000,
    participants: [{ id: '999@lid', isAdmin: false }, { id: '777@lid', isAdmin: true, isSuperAdmin: true }],
  };
  const page = await connectedPage({
    whatsapp: { GroupMetadataStore: { get: (id) => (String(id) === meta.id ? meta : undefined), getModelsArray: () => [meta] } },
  });
  page.window.WPP.conn.getMyUserLid = () => ({ _serialized: '999@lid' });
  const changed = page.handlers.get('group.participant_changed');
  changed({ groupId: meta.id, action: 'add', author: '777@lid', participants: ['999@lid'] });
  changed({ groupId: meta.id, action: 'add', author: '999@lid', participants: ['555@lid'] });
  await turns(10);
  const evs = page.sent.filter((e) => e.type === 'group_participants');
  assert.deepEqual(evs.map((e) => [e.author, e.participants]), [['777@lid', [ME._serialized]], [ME._serialized, ['555@lid']]]);
  assert.equal(evs[0].info.subject, 'Lid club');
  assert.deepEqual(evs[0].info.participants.map((p) => p.id), ['999@lid', '777@lid']);
  assert.equal(evs[1].info, undefined, 'another put in: no group to tell');
});

test('in a group that names members by privacy id, one already in the role is left out of a promotion', async () => {
  const gid = '120363000000000010@g.us';
  const promoted = [];
  const page = await connectedPage({
    group: {
      getAllGroups: async () => [{ id: { _serialized: gid }, groupMetadata: {} }],
      getParticipants: async () => [
        { id: { _serialized: '555@lid' }, isAdmin: true },
        { id: { _serialized: '666@lid' }, isAdmin: false },
        { id: ME, isAdmin: true, isSuperAdmin: true },
      ],
      // As wa-js: the whole call is refused if one is an admin already.
      promoteParticipants: async (id, ps) => {
        if (ps.includes('15550005555@c.us')) throw Object.assign(new Error('already an admin'), { code: 'group_participant_is_already_a_group_admin' });
        promoted.push(...ps);
      },
    },
    contact: {
      getPnLidEntry: async (id) => ({
        '15550005555@c.us': { lid: { _serialized: '555@lid' }, phoneNumber: { _serialized: '15550005555@c.us' } },
        '15550006666@c.us': { lid: { _serialized: '666@lid' }, phoneNumber: { _serialized: '15550006666@c.us' } },
      })[id] || null,
    },
  });
  assert.equal(await page.window.__wabridge.setAdmins(gid, ['15550005555@c.us', '15550006666@c.us'], true), true);
  assert.deepEqual(promoted, ['15550006666@c.us']);
});

// A connected page that sends to `to` (a number on WhatsApp, a chat it
// has) with these wa-js send calls.
const sendingPage = (to, sends) => connectedPage({
  contact: { queryWidExists: async (id) => ({ wid: { _serialized: id } }) },
  chat: {
    find: async (id) => ({ id: { _serialized: id } }),
    generateMessageID: async () => ({ remote: { _serialized: to } }),
    ...sends,
  },
});

test('a send WhatsApp refuses (wa-js answers ERROR_..., with no ack below 1) is told failed, after the message', async () => {
  const to = '15550001111@c.us';
  const page = await sendingPage(to, {
    sendTextMessage: async (t, text, opts) => ({ id: opts.messageId, to: t, ack: 0, sendMsgResult: Promise.resolve({ messageSendResult: 'ERROR_UNKNOWN' }) }),
  });
  await assert.rejects(page.window.__wabridge.sendText(to, 'hi', null, [], 'ABC'), /WhatsApp did not send the message: ERROR_UNKNOWN/);
  await turns(10);
  const acks = page.sent.filter((e) => e.type === 'ack');
  assert.deepEqual(acks.map((e) => [e.ack, e.chat, e.ids]), [[-1, to, ['true_' + to + '_ABC']]]);
});

test("a file larger than WhatsApp takes for its type says so, with wa-js's limit", async () => {
  const to = '15550001111@c.us';
  const page = await sendingPage(to, {
    sendFileMessage: async () => {
      throw Object.assign(new Error('File size 20 MB exceeds the upload limit of 16 MB for video files'), { code: 'file_too_large', fileSize: 20971520, limit: 16777216, mediaType: 'video' });
    },
  });
  await assert.rejects(
    page.window.__wabridge.sendFile(to, 'AAAA', { mimetype: 'video/mp4', messageId: 'BIG' }),
    /^Error: MEDIA_TOO_LARGE: 16777216: File size 20 MB exceeds/,
  );
});

test("a reaction by a privacy id carries the sender's phone where WhatsApp Web knows it, in its place", async () => {
  const page = await connectedPage({
    contact: {
      getPnLidEntry: async (id) => (String(id) === '555@lid'
        ? { lid: { _serialized: '555@lid' }, phoneNumber: { _serialized: '15550005555@c.us' } } : null),
    },
  });
  const react = (n, sender) => page.handlers.get('chat.new_reaction')({
    id: { fromMe: false, _serialized: `R${n}` }, msgId: { remote: { _serialized: '120363000000000001@g.us' }, _serialized: 'M1' },
    sender: { _serialized: sender }, reactionText: '👍', timestamp: 1700000000 + n,
  });
  react(1, '555@lid');
  react(2, '15550006666@c.us');
  react(3, '777@lid');
  await turns(10);
  assert.deepEqual(page.sent.filter((e) => e.type === 'reaction').map((e) => [e.id, e.sender, e.sender_phone]), [
    ['R1', '555@lid', '15550005555'],
    ['R2', '15550006666@c.us', undefined],
    ['R3', '777@lid', undefined],
  ]);
});
