// Every member that index.d.ts claims exists in the pinned whatsapp-web.js
// declarations under the same name, with compatible parameters; and the
// JavaScript implements each of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import ts from 'typescript';

const require = createRequire(import.meta.url);
const ours = require('../index.js');

function members(file) {
  const src = ts.createSourceFile(file, ts.sys.readFile(require.resolve(file)), ts.ScriptTarget.Latest, true);
  const out = new Map(); // type name -> Map(member -> {params, required} | 'prop')
  const visit = (node) => {
    if ((ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) && node.name) {
      const m = out.get(node.name.text) || new Map();
      for (const el of node.members) {
        if (!el.name || !ts.isIdentifier(el.name)) continue;
        const name = el.name.text;
        let fn = null;
        if (ts.isMethodDeclaration(el) || ts.isMethodSignature(el)) fn = el;
        else if ((ts.isPropertySignature(el) || ts.isPropertyDeclaration(el)) && el.type && ts.isFunctionTypeNode(el.type)) fn = el.type;
        if (fn) {
          const params = fn.parameters.length;
          const required = fn.parameters.filter((p) => !p.questionToken && !p.initializer && !p.dotDotDotToken).length;
          const prev = m.get(name);
          // Overloads: the widest counts.
          m.set(name, prev && prev !== 'prop' ? { params: Math.max(prev.params, params), required: Math.min(prev.required, required) } : { params, required });
        } else if (!m.has(name)) {
          m.set(name, 'prop');
        }
      }
      out.set(node.name.text, m);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

const theirs = members('whatsapp-web.js/index.d.ts');
const claimed = members('../index.d.ts');
const TYPES = ['Client', 'LocalAuth', 'MessageMedia', 'Location', 'Poll', 'Message', 'Chat', 'Contact'];

test('every claimed member exists in whatsapp-web.js with compatible parameters', () => {
  for (const t of TYPES) {
    const mine = claimed.get(t);
    const wweb = theirs.get(t);
    assert.ok(mine && wweb, `${t} declared on both sides`);
    for (const [name, sig] of mine) {
      if (name === 'on') continue; // events are checked below
      assert.ok(wweb.has(name), `${t}.${name} is not a whatsapp-web.js member`);
      const w = wweb.get(name);
      if (sig === 'prop' || w === 'prop') {
        assert.equal(sig === 'prop', w === 'prop', `${t}.${name}: a method on one side, a property on the other`);
        continue;
      }
      // Callers written for whatsapp-web.js pass what it requires; we must
      // not require more, and must accept what it accepts.
      assert.ok(sig.required <= w.params, `${t}.${name} requires ${sig.required}, whatsapp-web.js takes ${w.params}`);
      assert.ok(w.required <= sig.params, `${t}.${name} takes ${sig.params}, whatsapp-web.js requires ${w.required}`);
    }
  }
});

test('the events are whatsapp-web.js event names', () => {
  const src = ts.sys.readFile(require.resolve('whatsapp-web.js/index.d.ts'));
  for (const e of Object.values(ours.Events)) {
    assert.ok(src.includes(`'${e}'`), `event '${e}' is not in whatsapp-web.js`);
  }
});

test('the JavaScript implements what index.d.ts claims', () => {
  const client = new ours.Client({ wabridge: { url: 'http://127.0.0.1:1', key: 'k' } });
  for (const [name, sig] of claimed.get('Client')) {
    if (sig !== 'prop' && name !== 'on') assert.equal(typeof client[name], 'function', `Client.${name}`);
  }
  const msg = new ours.Message(client, { id: 'false_1@c.us_X', chat: '1@c.us', text: 'hi', timestamp: 1, ack: 'sent' });
  for (const [name, sig] of claimed.get('Message')) {
    if (sig === 'prop') assert.ok(name in msg || ['author'].includes(name), `Message.${name}`);
    else assert.equal(typeof msg[name], 'function', `Message.${name}`);
  }
  const chat = new ours.Chat(client, { id: '1@c.us' });
  for (const [name, sig] of claimed.get('Chat')) {
    if (sig === 'prop') assert.ok(name in chat, `Chat.${name}`);
    else assert.equal(typeof chat[name], 'function', `Chat.${name}`);
  }
  const contact = new ours.Contact(client, '1@c.us', 'A');
  for (const [name, sig] of claimed.get('Contact')) {
    if (sig === 'prop') assert.ok(name in contact, `Contact.${name}`);
    else assert.equal(typeof contact[name], 'function', `Contact.${name}`);
  }
  assert.equal(typeof ours.MessageMedia.fromFilePath, 'function');
  assert.equal(typeof ours.MessageMedia.fromUrl, 'function');
  return client.setStatus('busy').then(
    () => assert.fail('unsupported calls must say so'),
    (e) => assert.equal(e.name, 'NotSupportedError'),
  );
});
