// The sandbox page's own UI: the QR while unlinked, the account and its
// chats once linked. It only reads the sandbox device's state.
(function () {
  'use strict';
  const device = window.__sandboxDevice;
  const $ = (id) => document.getElementById(id);
  let scheduled = false;

  function draw() {
    scheduled = false;
    const s = device.state();
    $('status').textContent = s.online ? 'online' : s.creds ? 'connecting…' : 'not linked';
    const linked = !!(s.creds && s.creds.token);
    $('landing').hidden = linked;
    $('account').hidden = !linked;
    if (!linked && s.authCode) {
      if ($('qr').getAttribute('src') !== device.qrPng) $('qr').src = device.qrPng;
      $('qr-string').textContent = s.authCode.fullCode;
    }
    if (linked) {
      $('me').textContent = (s.creds.name || '') + ' (+' + s.creds.phone + ')';
      const box = $('chats');
      box.textContent = '';
      for (const chat of s.chats.slice(-30)) {
        const div = document.createElement('div');
        div.className = 'chat';
        const h = document.createElement('strong');
        h.textContent = chat.name + (chat.unreadCount ? ' (' + chat.unreadCount + ')' : '');
        div.appendChild(h);
        for (const m of chat.msgs.slice(-5)) {
          const p = document.createElement('div');
          p.className = 'msg' + (m.id.fromMe ? ' me' : '');
          p.textContent = (m.id.fromMe ? '→ ' : '← ') + (m.body || '[' + m.type + ']');
          div.appendChild(p);
        }
        box.appendChild(div);
      }
    }
  }

  // Coalesce redraws: a burst of messages costs one paint.
  device.render = function () {
    if (!scheduled) { scheduled = true; setTimeout(draw, 100); }
  };
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  device.start(proto + '//' + location.host + '/ws');
  draw();
})();
