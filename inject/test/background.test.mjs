// bridge.js in a page hidden as a background tab (the daemon hides linked
// pages): the page's timers may wake only once a second, so the bridge must
// hand its events to the daemon without waiting on one. Here timers never
// fire at all, and every event must still reach the binding, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenPage, turns } from './page.mjs';

test('events leave a background page without waiting on a timer', async () => {
  const page = hiddenPage();
  await turns(5);
  assert.deepEqual(page.sent.map((e) => e.type), ['injected'], 'the first event waited on a timer');
  const onMessage = page.handlers.get('chat.new_message');
  for (let i = 0; i < 3; i++) {
    onMessage({
      id: { fromMe: false, remote: '15550001111@c.us', _serialized: `false_15550001111@c.us_M${i}` },
      type: 'chat', body: `hello ${i}`, from: '15550001111@c.us', to: '15550002222@c.us', t: 1700000000 + i,
    });
  }
  await turns(10);
  const msgs = page.sent.filter((e) => e.type === 'message').map((e) => e.msg.text);
  assert.deepEqual(msgs, ['hello 0', 'hello 1', 'hello 2']);
});
