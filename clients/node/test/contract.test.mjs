// Every member that index.d.ts claims exists in the pinned whatsapp-web.js
// declarations under the same name, with compatible parameters; the
// JavaScript implements each of them; every whatsapp-web.js method exists
// (so no call is a TypeError); the constants are whatsapp-web.js's; and a
// bot typed against whatsapp-web.js compiles against index.d.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const require = createRequire(import.meta.url);
const ours = require('../index.js');
const wwebConstants = require('whatsapp-web.js/src/util/Constants.js');

function members(file) {
  const src = ts.createSourceFile(file, ts.sys.readFile(require.resolve(file)), ts.ScriptTarget.Latest, true);
  const out = new Map(); // type name -> Map(member -> {params, required} | 'prop' | 'prop?')
  const visit = (node) => {
    if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) && node.name) {
      const m = out.get(node.name.text) || new Map();
      for (const el of node.members) {
        if (!el.name || !ts.isIdentifier(el.name)) continue;
        const name = el.name.text;
        let fn = null;
        if (ts.isMethodDeclaration(el) || ts.isMethodSignature(el)) fn = el;
        else if ((ts.isPropertySignature(el) || ts.isPropertyDeclaration(el)) && el.type && ts.isFunctionTypeNode(el.type)) fn = el.type;
        // whatsapp-web.js types promote/demote by an alias of a function type.
        else if (ts.isPropertySignature(el) && el.type && ts.isTypeReferenceNode(el.type) && el.type.getText() === 'ChangeParticipantsPermissions') fn = { parameters: [{}] };
        if (fn) {
          const params = fn.parameters.length;
          const required = fn.parameters.filter((p) => !p.questionToken && !p.initializer && !p.dotDotDotToken).length;
          const prev = m.get(name);
          // Overloads: the widest counts.
          m.set(name, prev && typeof prev === 'object' ? { params: Math.max(prev.params, params), required: Math.min(prev.required, required) } : { params, required });
        } else if (!m.has(name)) {
          m.set(name, el.questionToken ? 'prop?' : 'prop');
        }
      }
      out.set(node.name.text, m);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

const isProp = (sig) => typeof sig === 'string';
const theirs = members('whatsapp-web.js/index.d.ts');
const claimed = members('../index.d.ts');
const TYPES = ['Client', 'ClientOptions', 'ClientInfo', 'LocalAuth', 'RemoteAuth', 'MessageMedia', 'MessageSendOptions',
  'Location', 'Poll', 'List', 'Buttons', 'Message', 'Chat', 'GroupChat', 'Contact', 'GroupNotification', 'Reaction', 'PollVote', 'Call',
  'GroupMembershipRequest', 'MembershipRequestActionResult', 'MembershipRequestActionOptions', 'Label', 'Channel',
  'CreateChannelOptions', 'CreateChannelResult', 'UnsubscribeOptions', 'SearchChannelsOptions',
  'Store', 'BatteryInfo', 'ClientInfoPhone', 'Order', 'Payment', 'Product', 'ProductMetadata', 'AddParticipantsOptions',
  'MediaFromURLOptions', 'ScheduledEventSendOptions', 'TransferChannelOwnershipOptions', 'MessageSendChannelOptions',
  'LocalWebCacheOptions', 'RemoteWebCacheOptions', 'NoWebCacheOptions', 'BusinessContact', 'BusinessCategory',
  'BusinessHours', 'BusinessHoursOfDay'];
// Types declared here as whatsapp-web.js declares them, member for member.
const SAME = ['Store', 'BatteryInfo', 'ClientInfoPhone', 'Order', 'Payment', 'Product', 'ProductMetadata', 'AddParticipantsOptions',
  'MediaFromURLOptions', 'ScheduledEventSendOptions', 'TransferChannelOwnershipOptions', 'MessageSendChannelOptions',
  'LocalWebCacheOptions', 'RemoteWebCacheOptions', 'NoWebCacheOptions', 'BusinessContact', 'BusinessCategory',
  'BusinessHours', 'BusinessHoursOfDay'];
// What wabridge adds, on purpose.
const EXTRAS = ['ClientOptions.wabridge', 'Message.notifyName', 'GroupChat.groupMetadata'];

test('every claimed member exists in whatsapp-web.js with compatible parameters', () => {
  for (const t of TYPES) {
    const mine = claimed.get(t);
    const wweb = theirs.get(t);
    assert.ok(mine && wweb, `${t} declared on both sides`);
    for (const [name, sig] of mine) {
      if (name === 'on' || EXTRAS.includes(`${t}.${name}`)) continue; // events are checked below
      assert.ok(wweb.has(name), `${t}.${name} is not a whatsapp-web.js member`);
      const w = wweb.get(name);
      if (isProp(sig) || isProp(w)) {
        assert.equal(isProp(sig), isProp(w), `${t}.${name}: a method on one side, a property on the other`);
        continue;
      }
      // Callers written for whatsapp-web.js pass what it requires; we must
      // not require more, and must accept what it accepts.
      assert.ok(sig.required <= w.params, `${t}.${name} requires ${sig.required}, whatsapp-web.js takes ${w.params}`);
      assert.ok(w.required <= sig.params, `${t}.${name} takes ${sig.params}, whatsapp-web.js requires ${w.required}`);
    }
  }
});

test('every property whatsapp-web.js declares on Message, and every member of the types copied from it, is declared here', () => {
  const mine = claimed.get('Message');
  for (const [name, sig] of theirs.get('Message')) {
    if (isProp(sig)) assert.ok(mine.has(name) && isProp(mine.get(name)), `Message.${name} is not declared`);
  }
  for (const t of SAME) {
    for (const name of theirs.get(t).keys()) assert.ok(claimed.get(t).has(name), `${t}.${name} is not declared`);
  }
});

test('every name whatsapp-web.js\'s declarations export can be imported from index.d.ts', (t) => {
  const src = ts.createSourceFile('w.d.ts', ts.sys.readFile(require.resolve('whatsapp-web.js/index.d.ts')), ts.ScriptTarget.Latest, true);
  const names = new Set();
  const visit = (node) => {
    const exported = node.modifiers && node.modifiers.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (exported && node.name && ts.isIdentifier(node.name)) names.add(node.name.text);
    if (exported && ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) names.add(d.name.getText());
    ts.forEachChild(node, visit);
  };
  visit(src);
  assert.ok(names.size > 50 && names.has('Client') && names.has('InviteV4Data'), 'their exports were read');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-names-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'names.ts');
  const index = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../index');
  fs.writeFileSync(file, `import type { ${[...names].join(', ')} } from ${JSON.stringify(index)};\n`);
  const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, types: [] });
  assert.deepEqual(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
});

test('the events and constants are whatsapp-web.js\'s', () => {
  const src = ts.sys.readFile(require.resolve('whatsapp-web.js/index.d.ts'));
  for (const e of Object.values(ours.Events)) {
    assert.ok(src.includes(`'${e}'`), `event '${e}' is not in whatsapp-web.js`);
  }
  for (const name of ['Events', 'MessageTypes', 'GroupNotificationTypes', 'ChatTypes', 'WAState', 'MessageAck', 'Status', 'WhatsWebURL']) {
    assert.deepEqual(ours[name], wwebConstants[name], name);
  }
  for (const name of ['Client', 'NoAuth', 'LocalAuth', 'RemoteAuth', 'Chat', 'PrivateChat', 'GroupChat', 'Message', 'MessageMedia',
    'Contact', 'PrivateContact', 'ClientInfo', 'Location', 'Poll', 'List', 'Buttons', 'ScheduledEvent']) {
    assert.equal(typeof ours[name], 'function', `${name} is exported`);
  }
  // Every name whatsapp-web.js exports is exported (a class as a class).
  const wweb = require('whatsapp-web.js/index.js');
  for (const [name, v] of Object.entries(wweb)) {
    assert.ok(name in ours, `${name} is exported`);
    assert.equal(typeof ours[name], typeof v, `${name} is a ${typeof v}`);
  }
  assert.equal(ours.version, require('../package.json').version);
  assert.equal(new ours.Client({ authStrategy: new ours.RemoteAuth({ clientId: 'r1', store: {} }) }).sessionId, 'r1');
  assert.equal(new ours.Client({ authStrategy: new ours.NoAuth() }).sessionId, 'session');
});

const client = new ours.Client({ wabridge: { url: 'http://127.0.0.1:1', key: 'k' } });
const instances = {
  Client: client,
  Message: new ours.Message(client, { id: 'false_1@c.us_X', chat: '1@c.us', text: 'hi', timestamp: 1, ack: 'sent' }),
  Chat: new ours.Chat(client, { id: '1@c.us' }),
  GroupChat: new ours.GroupChat(client, { id: '2@g.us' }, { id: '2@g.us', subject: 'G', owner: '1@c.us', created: 1, participants: [] }),
  Contact: new ours.Contact(client, '1@c.us', 'A'),
  ClientInfo: new ours.ClientInfo({ me: { id: '1@c.us', name: 'A' }, platform: 'android' }),
  Channel: new ours.Channel(client, { id: '120363@newsletter', name: 'News', role: 'subscriber' }),
};

test('the JavaScript implements what index.d.ts claims', () => {
  for (const [t, obj] of Object.entries(instances)) {
    for (const [name, sig] of claimed.get(t)) {
      if (name === 'on') continue;
      if (sig === 'prop') assert.ok(name in obj || (t === 'Message' && name === 'author'), `${t}.${name}`);
      else if (!isProp(sig)) assert.equal(typeof obj[name], 'function', `${t}.${name}`);
    }
  }
  assert.equal(typeof ours.MessageMedia.fromFilePath, 'function');
  assert.equal(typeof ours.MessageMedia.fromUrl, 'function');
});

test('every whatsapp-web.js method exists, so no call is a TypeError; unsupported ones say so', async () => {
  for (const [t, obj] of Object.entries(instances)) {
    for (const [name, sig] of theirs.get(t)) {
      if (!isProp(sig)) assert.equal(typeof obj[name], 'function', `${t}.${name} is missing`);
    }
  }
  for (const [obj, call] of [[client, 'getChannelByInviteCode'], [instances.Channel, 'getSubscribers'], [client, 'getFormattedNumber'],
    [instances.Message, 'getOrder'], [instances.Chat, 'syncHistory'],
    [instances.GroupChat, 'setAddMembersAdminsOnly'], [instances.Contact, 'getFormattedNumber'], [instances.ClientInfo, 'getBatteryStatus']]) {
    await assert.rejects(() => obj[call](), (e) => e.name === 'NotSupportedError' && e.message.includes(`.${call} `), call);
  }
  // Content and options the daemon cannot send: said before anything is sent.
  const media = new ours.MessageMedia('image/png', 'AA==');
  await assert.rejects(() => client.sendMessage('1@c.us', new ours.Buttons('b', [{ body: 'x' }])), { name: 'NotSupportedError' });
  await assert.rejects(() => client.sendMessage('1@c.us', new ours.MessageMedia('audio/ogg', 'AA=='), { sendMediaAsSticker: true }), { name: 'NotSupportedError' });
  await assert.rejects(() => client.sendMessage('1@c.us', media, { groupMentions: [{ subject: 'G', id: '2@g.us' }] }), { name: 'NotSupportedError' });
});

test('getCountryCode finds a number\'s calling code, as WhatsApp Web does', async () => {
  for (const [number, cc] of [['15551234567', '1'], ['+44 20 7946 0958', '44'], ['919876543210@c.us', '91'], ['3584573975', '358'],
    ['79161234567', '7'], ['2250707070707', '225'], ['8613812345678', '86'], ['85291234567', '852']]) {
    assert.equal(await client.getCountryCode(number), cc, number);
  }
  // 28 and 0 begin no calling code; a group id is no number.
  for (const none of ['2812345', '0123', '120363000000000001@g.us', '']) assert.equal(await client.getCountryCode(none), null, none);
});

test('media types from file names; ids as whatsapp-web.js shows them', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-mime-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const want = { 'a.opus': 'audio/ogg', 'a.m4a': 'audio/mp4', 'a.mp3': 'audio/mpeg', 'a.webm': 'video/webm', 'a.csv': 'text/csv',
    'a.zip': 'application/zip', 'a.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    'a.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'a.bin': 'application/octet-stream' };
  for (const [name, mime] of Object.entries(want)) {
    fs.writeFileSync(path.join(dir, name), 'x');
    assert.equal(ours.MessageMedia.fromFilePath(path.join(dir, name)).mimetype, mime, name);
  }
  const g = new ours.Message(client, { id: 'false_120363@g.us_3A11_15553330000@c.us', chat: '120363@g.us', from: '120363@g.us',
    sender: { phone: '15553330000', name: 'Bo' }, text: 'hi', type: 'text', location: null });
  assert.deepEqual([g.id.remote, g.id.id, g.id.participant, g.author, g.notifyName, g._data.notifyName], ['120363@g.us', '3A11', '15553330000@c.us', '15553330000@c.us', 'Bo', 'Bo']);
  const place = new ours.Message(client, { id: 'false_1@c.us_X', chat: '1@c.us', type: 'location', location: { lat: 1.5, lng: 2.5, name: 'Dam', address: 'A' } });
  assert.ok(place.location instanceof ours.Location);
  assert.equal(place.location.description, 'Dam\nA');
  const lid = new ours.Contact(client, '4475@lid', { phone: '15556660000', pushname: 'Lida' });
  assert.deepEqual([lid.number, lid.isUser, lid.pushname], ['15556660000', true, 'Lida']);
});

test('a bot typed against whatsapp-web.js compiles against index.d.ts', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-types-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bot.ts');
  const index = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../index');
  fs.writeFileSync(file, `
import { Client, LocalAuth, MessageMedia, Message, GroupChat, Contact, Location, Poll, Events, WAState, MessageAck, GroupNotification, Reaction, PollVote, InviteV4Data, MediaFromURLOptions } from ${JSON.stringify(index)};
const client = new Client({ authStrategy: new LocalAuth({ clientId: 'shop' }), puppeteer: { headless: true, args: ['--no-sandbox'] }, webVersionCache: { type: 'none' } });
client.on('qr', (qr: string) => console.log(qr));
client.on(Events.READY, () => console.log(client.info.wid._serialized, client.info.pushname));
client.on('disconnected', (reason) => { if (reason === 'LOGOUT') client.initialize(); });
client.on('message_ack', (msg: Message, ack: MessageAck) => console.log(msg.id._serialized, ack));
client.on('group_join', async (n: GroupNotification) => { await n.reply('welcome ' + n.recipientIds.join(', ')); });
client.on('message_reaction', (r: Reaction) => console.log(r.reaction, r.msgId._serialized, r.senderId));
client.on('vote_update', (v: PollVote) => console.log(v.voter, v.selectedOptions.map((o) => o.name), v.parentMessage.id));
client.on('message', async (msg: Message) => {
  const name: string | undefined = msg.notifyName;
  const ids: string[] = msg.mentionedIds;
  if (msg.location) console.log(msg.location.latitude, msg.location.description);
  if (msg.hasQuotedMsg) { const q: Message = await msg.getQuotedMessage(); console.log(q.body); }
  const chat = await msg.getChat();
  if (chat.isGroup) { const g = chat as GroupChat; console.log(g.participants.map((p) => p.id._serialized), g.owner.user); }
  const contact: Contact = await msg.getContact();
  await chat.sendMessage('hi @' + contact.number, { mentions: [contact.id._serialized], sendSeen: false, linkPreview: false });
  await msg.reply(MessageMedia.fromFilePath('./a.pdf'), undefined, { sendMediaAsDocument: true, caption: name });
  await client.sendMessage(msg.from, new Location(52.3, 4.9, { name: 'Dam' }));
  await client.sendMessage(msg.from, new Poll('Lunch?', ['Pizza', 'Sushi'], { allowMultipleAnswers: true, messageSecret: undefined }));
  const invite: InviteV4Data | undefined = msg.inviteV4;
  const fromUrl: MediaFromURLOptions = { unsafeMime: true, filename: 'a.jpg' };
  if (invite || msg.selectedButtonId || msg.mediaKey) await msg.reply(await MessageMedia.fromUrl('https://example.com/a.jpg', fromUrl));
  const media = await msg.downloadMedia();
  if (media) console.log(media.mimetype, ids.length);
  if ((await client.getState()) === WAState.CONNECTED) await msg.react('👍');
});
client.initialize();
`);
  const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, esModuleInterop: true, types: ['node'], typeRoots: [path.resolve(path.dirname(new URL(import.meta.url).pathname), '../node_modules/@types')] });
  const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(diags, []);
});
