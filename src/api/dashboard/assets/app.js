// wabridge dashboard: plain ES2020, no framework, nothing fetched from
// outside the daemon. Everything goes through the native API (/api/...)
// with the API key in the Authorization header; only the EventSource,
// which cannot send headers, carries it as ?key=. Text from the API is
// only ever set with textContent.
"use strict";

(() => {
  const KEY_STORE = "wabridge.key";
  const SELECTED_STORE = "wabridge.selected";
  const STREAM_EVENTS = ["session.status", "session.qr", "message.any", "message.ack", "message.revoked"];
  const MESSAGE_PAGE = 50;
  const DELIVERY_PAGE = 100;
  const DELIVERY_POLL_MS = 10000;
  const SESSION_POLL_MS = 30000;

  const $ = (sel) => document.querySelector(sel);

  const state = {
    key: null,
    sessions: new Map(), // id -> Session (as the API shows it)
    selected: null, // session id
    chat: null, // selected chat id
    chats: [], // [{id, name, unread, timestamp}]
    messages: [], // newest first
    messagesNext: null, // cursor for older messages
    qr: null, // the QR string on screen
    qrVersion: 0,
    qrEpoch: 0, // bumps on every QR event, so a slower GET does not undo it
    es: null,
    esRetry: null,
    lastEventId: null,
    timers: {},
  };

  // ---------------------------------------------------------------- helpers

  // The one DOM builder both pages use (dom.js).
  const el = window.WabridgeDom.el;

  function show(node, visible) {
    node.hidden = !visible;
  }

  function debounce(name, ms, fn) {
    clearTimeout(state.timers[name]);
    state.timers[name] = setTimeout(fn, ms);
  }

  const enc = encodeURIComponent;

  function fmtTime(v, unit) {
    if (v === null || v === undefined) return "";
    const ms = unit === "s" ? v * 1000 : v;
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) return "";
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }

  /** The readable part of a WhatsApp id (15551234567@c.us → +15551234567). */
  function prettyWid(id) {
    if (typeof id !== "string") return "";
    const m = /^(\d+)@c\.us$/.exec(id);
    return m ? "+" + m[1] : id;
  }

  /**
   * Keeps `container`'s children in step with `items`, keyed by a data
   * attribute. A row stays the same node for as long as its item is listed
   * (`update` changes its content in place), so a handle on it, or a click
   * in flight, stays good; gone rows are removed, order follows items.
   */
  function reconcile(container, items, attr, keyOf, build, update) {
    const have = new Map();
    for (const child of Array.from(container.children)) {
      const k = child.getAttribute("data-" + attr);
      if (k === null) child.remove();
      else have.set(k, child);
    }
    let ref = container.firstElementChild;
    for (const item of items) {
      const k = String(keyOf(item));
      let node = have.get(k);
      if (!node) {
        node = build(item);
        node.setAttribute("data-" + attr, k);
      }
      update(node, item);
      have.delete(k);
      if (node === ref) ref = ref.nextElementSibling;
      else container.insertBefore(node, ref);
    }
    for (const gone of have.values()) gone.remove();
  }

  /** Sets a node's text only when it changed (no needless DOM churn). */
  function setText(node, text) {
    const t = text === null || text === undefined ? "" : String(text);
    if (node.textContent !== t) node.textContent = t;
  }

  function setData(node, name, value) {
    const v = value === null || value === undefined ? "" : String(value);
    if (node.getAttribute("data-" + name) !== v) node.setAttribute("data-" + name, v);
  }

  function emptyNote(container, text) {
    if (container.children.length === 0) container.append(el("li", { className: "empty" }, text));
  }

  // ---------------------------------------------------------------- toast

  function toast(message, kind) {
    const t = $("#toast");
    t.textContent = message;
    t.className = "toast " + (kind || "error");
    t.hidden = false;
    clearTimeout(state.timers.toast);
    state.timers.toast = setTimeout(() => { t.hidden = true; }, kind === "info" ? 3500 : 9000);
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  /** One call to the native API; throws ApiError with the API's error.message. */
  async function api(method, path, body, key) {
    const headers = { Authorization: "Bearer " + (key || state.key), Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", "cannot reach the daemon (" + (e && e.message ? e.message : "network error") + ")");
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!resp.ok) {
      const err = data && data.error;
      const message = err && typeof err.message === "string" && err.message
        ? err.message
        : "HTTP " + resp.status + (resp.statusText ? " " + resp.statusText : "");
      const e = new ApiError(resp.status, err && err.code ? err.code : "http_" + resp.status, message);
      if (resp.status === 401 && !key && state.key) keyRefused(e.message);
      throw e;
    }
    return data;
  }

  /** Runs an API action, showing its error (never silently). */
  async function attempt(fn, button) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) toast(e.message || String(e));
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- login

  function showLogin(error) {
    stopStream();
    stopPolling();
    state.key = null;
    state.lastEventId = null;
    state.sessions.clear();
    state.selected = null;
    show($("#login-view"), true);
    show($("#app-view"), false);
    show($("#logout-key"), false);
    show($("#conn"), false);
    $("#sessions").replaceChildren();
    show($("#session-detail"), false);
    $("#login-error").textContent = error || "";
    $("#key").focus();
  }

  function keyRefused(message) {
    try { sessionStorage.removeItem(KEY_STORE); } catch (_) { /* storage may be off */ }
    showLogin(message || "the API key is not valid");
  }

  async function login(key, quiet) {
    $("#login-error").textContent = "";
    let list;
    try {
      list = await api("GET", "/api/sessions", undefined, key);
    } catch (e) {
      if (e.status === 401) {
        try { sessionStorage.removeItem(KEY_STORE); } catch (_) { /* */ }
      }
      showLogin(e.message);
      // A kept key that only failed to reach the daemon: ready to try again.
      if (quiet && e.status !== 401) $("#key").value = key;
      return false;
    }
    state.key = key;
    try { sessionStorage.setItem(KEY_STORE, key); } catch (_) { /* */ }
    $("#key").value = "";
    show($("#login-view"), false);
    show($("#app-view"), true);
    show($("#logout-key"), true);
    show($("#conn"), true);
    setSessions(list);
    let again = null;
    try { again = sessionStorage.getItem(SELECTED_STORE); } catch (_) { /* */ }
    if (again && state.sessions.has(again)) select(again);
    startStream();
    startPolling();
    return true;
  }

  function logoutKey() {
    try {
      sessionStorage.removeItem(KEY_STORE);
      sessionStorage.removeItem(SELECTED_STORE);
    } catch (_) { /* */ }
    showLogin("");
  }

  // ---------------------------------------------------------------- sessions

  function sortedSessions() {
    return Array.from(state.sessions.values()).sort((a, b) =>
      String(a.created_at || "").localeCompare(String(b.created_at || "")) || String(a.id).localeCompare(String(b.id)));
  }

  function setSessions(list) {
    state.sessions.clear();
    for (const s of Array.isArray(list) ? list : []) state.sessions.set(s.id, s);
    renderSessions();
    if (state.selected && !state.sessions.has(state.selected)) unselect();
    else if (state.selected) renderDetailHead();
  }

  async function refreshSessions() {
    const list = await attempt(() => api("GET", "/api/sessions"));
    if (list) setSessions(list);
  }

  function meText(s) {
    if (!s.me) return "";
    const phone = s.me.phone ? "+" + String(s.me.phone).replace(/^\+/, "") : s.me.id || "";
    return s.me.name ? s.me.name + " · " + phone : phone;
  }

  function actionButton(action, label, extra) {
    return el("button", Object.assign({ type: "button", className: "small act act-" + action, dataset: { action } }, extra || {}), label);
  }

  // The row's upper part (id, account, status) is the `.open` button and is
  // taller than the one line of actions under it, so a tap in the middle of
  // the row opens it and never hits an action.
  function buildSessionRow(s) {
    return el("li", { className: "session" },
      el("button", { type: "button", className: "open", title: "Open " + s.id },
        el("span", { className: "sid mono" }, s.id),
        el("span", { className: "status badge" }),
        el("span", { className: "me muted small" })),
      el("div", { className: "actions" },
        actionButton("start", "Start"),
        actionButton("stop", "Stop"),
        actionButton("restart", "Restart"),
        actionButton("logout", "Log out"),
        actionButton("delete", "Delete", { className: "small act act-delete danger" })));
  }

  function updateSessionRow(row, s) {
    const status = String(s.status || "");
    const badge = row.querySelector(".status");
    setText(badge, status);
    setData(badge, "status", status);
    setData(row, "status", status);
    setText(row.querySelector(".me"), meText(s));
    row.classList.toggle("selected", s.id === state.selected);
    if (s.id === state.selected) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
    row.title = s.status === "FAILED" && s.error ? String(s.error) : "";
  }

  function renderSessions() {
    const list = $("#sessions");
    reconcile(list, sortedSessions(), "session", (s) => s.id, buildSessionRow, updateSessionRow);
    emptyNote(list, "No sessions yet: create one above.");
  }

  function putSession(s) {
    if (!s || !s.id) return;
    state.sessions.set(s.id, s);
    renderSessions();
    if (s.id === state.selected) renderDetailHead();
  }

  function setStatus(id, status, error) {
    const s = state.sessions.get(id);
    if (!s) {
      debounce("sessions", 300, refreshSessions);
      return;
    }
    const before = s.status;
    s.status = status;
    if (error) s.error = error;
    else delete s.error;
    renderSessions();
    if (id === state.selected) {
      renderDetailHead();
      if (status !== before) afterStatus();
      if (before === "CONNECTED" && status !== "CONNECTED") loadChats();
      if (status === "CONNECTED" && before !== "CONNECTED") {
        loadChats();
        // The account just linked: who it is comes with the session.
        api("GET", "/api/sessions/" + enc(id)).then(putSession).catch(() => { /* the list poll catches up */ });
      }
    }
  }

  async function sessionAction(id, action, button) {
    const ask = {
      delete: "Delete session '" + id + "'? It is logged out, stopped and its data removed.",
      logout: "Log session '" + id + "' out? Linking it again needs a new scan.",
    }[action];
    if (ask && !window.WABRIDGE_NO_CONFIRM && !window.confirm(ask)) return;
    if (action === "delete") {
      const done = await attempt(() => api("DELETE", "/api/sessions/" + enc(id)), button);
      if (done) {
        state.sessions.delete(id);
        if (state.selected === id) unselect();
        renderSessions();
        toast("Session " + id + " deleted", "info");
      }
      return;
    }
    const s = await attempt(() => api("POST", "/api/sessions/" + enc(id) + "/" + action), button);
    if (s) {
      putSession(s);
      if (s.id === state.selected) afterStatus();
    }
  }

  async function createSession(ev) {
    ev.preventDefault();
    const input = $("#new-session-id");
    const id = input.value.trim();
    const body = id ? { id } : {};
    const s = await attempt(() => api("POST", "/api/sessions", body), $("#create-session"));
    if (s) {
      input.value = "";
      putSession(s);
      select(s.id);
      toast("Session " + s.id + " created", "info");
    }
  }

  // ---------------------------------------------------------------- detail

  function select(id) {
    if (!state.sessions.has(id)) return;
    const changed = state.selected !== id;
    state.selected = id;
    try { sessionStorage.setItem(SELECTED_STORE, id); } catch (_) { /* */ }
    const detail = $("#session-detail");
    detail.setAttribute("data-current", id);
    show(detail, true);
    renderSessions();
    if (changed) {
      state.chat = null;
      state.chats = [];
      state.messages = [];
      state.messagesNext = null;
      state.qr = null;
      $("#chats").replaceChildren();
      $("#messages").replaceChildren();
      $("#messages-title").textContent = "Pick a chat to see its recent messages (newest first).";
      show($("#older-messages"), false);
      $("#deliveries").replaceChildren();
      $("#send-result").textContent = "";
      $("#send-result").className = "result";
      $("#send-to").placeholder = "15551234567 or …@c.us";
      setQr(null);
    }
    renderDetailHead();
    afterStatus();
    loadChats();
    loadDeliveries();
    if (window.matchMedia("(max-width: 899px)").matches && changed) {
      detail.scrollIntoView({ block: "start" });
    }
  }

  function unselect() {
    state.selected = null;
    try { sessionStorage.removeItem(SELECTED_STORE); } catch (_) { /* */ }
    const detail = $("#session-detail");
    detail.removeAttribute("data-current");
    show(detail, false);
    setQr(null);
  }

  function renderDetailHead() {
    const s = state.sessions.get(state.selected);
    if (!s) return;
    $("#detail-id").textContent = s.id;
    const badge = $("#detail-status");
    badge.textContent = String(s.status || "");
    badge.dataset.status = String(s.status || "");
    const me = meText(s);
    const memory = s.memory ? " · browser " + s.memory.pss_mb + " MB" : "";
    const versions = s.versions && s.versions.wa_web ? " · WhatsApp Web " + s.versions.wa_web + ", wa-js " + (s.versions.wa_js || "?") : "";
    $("#detail-me").textContent = (me ? "Linked to " + me + (s.platform ? " (" + s.platform + ")" : "") : "Not linked") + memory + versions;
    const showError = (s.status === "FAILED" || s.status === "INCOMPATIBLE") && s.error;
    $("#detail-error").textContent = showError ? s.error : "";
    if (s.status !== "SCAN_QR") setQr(null);
  }

  /** After the selected session's status changed: QR on or off. */
  function afterStatus() {
    const s = state.sessions.get(state.selected);
    if (!s) return;
    if (s.status === "SCAN_QR") loadQr(s.id);
    else setQr(null);
  }

  // ---------------------------------------------------------------- QR

  function setQr(qr, dataUrl) {
    const img = $("#qr");
    const box = $("#qr-box");
    if (!qr || !dataUrl) {
      state.qr = null;
      img.removeAttribute("src");
      img.removeAttribute("data-qr");
      show(img, false);
      show(box, false);
      return;
    }
    if (qr !== state.qr || !img.getAttribute("src")) {
      state.qr = qr;
      img.src = dataUrl;
      img.setAttribute("data-qr", qr);
      state.qrVersion += 1;
      img.setAttribute("data-version", String(state.qrVersion));
    }
    show(img, true);
    show(box, true);
  }

  async function loadQr(id) {
    const epoch = state.qrEpoch;
    let r;
    try {
      r = await api("GET", "/api/sessions/" + enc(id) + "/qr");
    } catch (e) {
      // 409: not waiting for a scan (any more); the next event says more.
      if (e.status !== 409 && e.status !== 401) toast(e.message);
      return;
    }
    if (state.selected !== id || epoch !== state.qrEpoch) return;
    const s = state.sessions.get(id);
    if (s && s.status !== "SCAN_QR") {
      s.status = "SCAN_QR";
      renderSessions();
      renderDetailHead();
    }
    if (r && r.qr) setQr(r.qr, r.data_url);
  }

  // ---------------------------------------------------------------- chats and messages

  function buildChat() {
    return el("button", { type: "button", className: "chat" },
      el("span", { className: "chat-name" }),
      el("span", { className: "chat-id muted small mono" }),
      el("span", { className: "unread" }));
  }

  function updateChat(node, c) {
    const active = c.id === state.chat;
    const unread = active ? 0 : Number(c.unread) || 0;
    setText(node.querySelector(".chat-name"), c.name || prettyWid(c.id));
    setText(node.querySelector(".chat-id"), c.name ? prettyWid(c.id) : "");
    setText(node.querySelector(".unread"), unread > 0 ? String(unread) : "");
    node.classList.toggle("active", active);
    node.setAttribute("aria-pressed", active ? "true" : "false");
  }

  function renderChats() {
    const box = $("#chats");
    reconcile(box, state.chats, "chat", (c) => c.id, buildChat, updateChat);
    if (state.chats.length === 0 && !box.querySelector(".empty")) {
      box.append(el("p", { className: "empty muted small" }, "No chats yet."));
    }
  }

  async function loadChats() {
    const id = state.selected;
    if (!id) return;
    const note = $("#chats-note");
    const s = state.sessions.get(id);
    let chats = null;
    if (s && s.status === "CONNECTED") {
      try {
        chats = await api("GET", "/api/sessions/" + enc(id) + "/chats");
        note.textContent = "";
      } catch (e) {
        if (e.status === 401) return;
        note.textContent = "Chats from the phone are unavailable (" + e.message + "); showing chats from stored messages.";
      }
    } else {
      note.textContent = "The session is not connected: chats from stored messages.";
    }
    if (!Array.isArray(chats)) {
      // From what the store kept: the chats of the latest messages.
      try {
        const page = await api("GET", "/api/sessions/" + enc(id) + "/messages?limit=200");
        const seen = new Map();
        for (const m of (page && page.messages) || []) {
          if (!seen.has(m.chat)) seen.set(m.chat, { id: m.chat, name: null, unread: 0, timestamp: m.timestamp });
          if (!m.from_me && !seen.get(m.chat).name && m.sender && m.sender.name && /@c\.us$/.test(m.chat)) {
            seen.get(m.chat).name = m.sender.name;
          }
        }
        chats = Array.from(seen.values());
      } catch (e) {
        if (e.status === 401) return;
        note.textContent = "Chats unavailable: " + e.message;
        chats = [];
      }
    }
    if (state.selected !== id) return;
    state.chats = chats.slice().sort((a, b) => (Number(b.timestamp) || 0) - (Number(a.timestamp) || 0));
    if (state.chat && !state.chats.some((c) => c.id === state.chat)) {
      state.chats.unshift({ id: state.chat, name: null, unread: 0, timestamp: null });
    }
    renderChats();
  }

  function selectChat(chatId) {
    state.chat = chatId;
    const c = state.chats.find((x) => x.id === chatId);
    if (c) c.unread = 0;
    renderChats();
    $("#messages-title").textContent = "Recent messages with " + ((c && c.name) || prettyWid(chatId)) + " (newest first)";
    $("#send-to").placeholder = chatId;
    state.messages = [];
    state.messagesNext = null;
    $("#messages").replaceChildren();
    loadMessages(false);
  }

  function messageText(m) {
    if (m.text) return m.text;
    if (m.caption) return m.caption;
    if (m.type === "location" && m.location) return "📍 " + m.location.lat + ", " + m.location.lng;
    if (m.poll) return "📊 " + m.poll.name;
    if (m.vcards && m.vcards.length) return "[contact card]";
    if (m.voice) return "[voice note]";
    const file = m.media && m.media.filename ? " " + m.media.filename : "";
    return "[" + (m.type || "message") + file + "]";
  }

  function buildMessage(m) {
    const dir = m.from_me ? "out" : "in";
    const who = m.from_me ? "You" : (m.sender && (m.sender.name || (m.sender.phone ? "+" + m.sender.phone : ""))) || prettyWid(m.from);
    return el("li", { className: "message " + dir, dataset: { direction: dir } },
      el("div", { className: "text" }),
      el("div", { className: "caption muted small" }),
      el("div", { className: "meta small" },
        el("span", { className: "who" }, who),
        el("span", { className: "dir" }, dir === "out" ? "sent" : "received"),
        el("time", { className: "when" }, fmtTime(m.timestamp, "s")),
        m.from_me ? el("span", { className: "ack" }) : null));
  }

  function updateMessage(node, m) {
    setText(node.querySelector(".text"), m.revoked ? "This message was deleted" : messageText(m));
    setText(node.querySelector(".caption"), m.text && m.caption && !m.revoked ? m.caption : "");
    node.classList.toggle("revoked", Boolean(m.revoked));
    setData(node, "ack", m.ack || "");
    const ack = node.querySelector(".ack");
    if (ack) {
      setText(ack, m.ack || "");
      setData(ack, "ack", m.ack || "");
    }
  }

  function renderMessages() {
    const list = $("#messages");
    reconcile(list, state.messages, "message", (m) => m.id, buildMessage, updateMessage);
    if (state.messages.length === 0) emptyNote(list, "No messages in this chat yet.");
    show($("#older-messages"), Boolean(state.messagesNext));
  }

  async function loadMessages(older) {
    const id = state.selected;
    const chat = state.chat;
    if (!id || !chat) return;
    let q = "?chat=" + enc(chat) + "&limit=" + MESSAGE_PAGE;
    if (older && state.messagesNext) q += "&before=" + enc(state.messagesNext);
    const page = await attempt(() => api("GET", "/api/sessions/" + enc(id) + "/messages" + q), older ? $("#older-messages") : null);
    if (!page || state.selected !== id || state.chat !== chat) return;
    const got = Array.isArray(page.messages) ? page.messages : [];
    if (older) {
      const known = new Set(state.messages.map((m) => m.id));
      state.messages = state.messages.concat(got.filter((m) => !known.has(m.id)));
    } else {
      // Keep what arrived by event meanwhile and is not in this page yet.
      const fresh = new Set(got.map((m) => m.id));
      const newer = state.messages.filter((m) => !fresh.has(m.id) && (got.length === 0 || m.timestamp >= got[0].timestamp));
      state.messages = newer.concat(got);
    }
    state.messagesNext = page.next || null;
    renderMessages();
  }

  /** A message event (inbound or outbound) of `session`. */
  function onMessage(session, m) {
    if (session !== state.selected || !m || !m.chat) return;
    let c = state.chats.find((x) => x.id === m.chat);
    if (!c) {
      c = { id: m.chat, name: !m.from_me && m.sender && m.sender.name && /@c\.us$/.test(m.chat) ? m.sender.name : null, unread: 0, timestamp: m.timestamp };
    } else {
      state.chats = state.chats.filter((x) => x !== c);
      c.timestamp = m.timestamp;
    }
    if (!m.from_me && m.chat !== state.chat) c.unread = (Number(c.unread) || 0) + 1;
    state.chats.unshift(c);
    renderChats();
    if (m.chat === state.chat) {
      const i = state.messages.findIndex((x) => x.id === m.id);
      if (i >= 0) state.messages[i] = Object.assign({}, state.messages[i], m);
      else state.messages.unshift(m);
      state.messages.sort((a, b) => (b.timestamp || 0) - (a.timestamp || 0));
      renderMessages();
    }
    debounce("deliveries", 1500, loadDeliveries);
  }

  function onAck(session, p) {
    if (session !== state.selected || !p) return;
    const m = state.messages.find((x) => x.id === p.id);
    if (m) {
      m.ack = p.ack;
      renderMessages();
    }
  }

  function onRevoked(session, p) {
    if (session !== state.selected || !p) return;
    const m = state.messages.find((x) => x.id === p.id);
    if (m) {
      m.revoked = true;
      renderMessages();
    }
  }

  async function send(ev) {
    ev.preventDefault();
    const id = state.selected;
    if (!id) return;
    const result = $("#send-result");
    const to = $("#send-to").value.trim() || state.chat || "";
    const text = $("#send-text").value;
    result.className = "result";
    result.textContent = "Sending…";
    const button = $("#send");
    button.disabled = true;
    try {
      const r = await api("POST", "/api/sessions/" + enc(id) + "/messages", { to, text });
      result.className = "result ok";
      result.textContent = "Sent: " + r.id;
      result.dataset.messageId = r.id;
      $("#send-text").value = "";
    } catch (e) {
      result.className = "result error";
      result.textContent = e.message;
      delete result.dataset.messageId;
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- deliveries

  function buildDelivery(d) {
    return el("li", { className: "delivery" },
      el("div", { className: "delivery-head" },
        el("span", { className: "state badge" }),
        el("span", { className: "event mono small" }, String(d.event || "")),
        el("span", { className: "attempts muted small" })),
      el("div", { className: "url small mono" }, String(d.url || "") + (d.format ? " (" + d.format + ")" : "")),
      el("div", { className: "why small error" }),
      el("div", { className: "when muted small" }));
  }

  function updateDelivery(row, d) {
    const st = String(d.status || "");
    const badge = row.querySelector(".state");
    setText(badge, st);
    setData(badge, "state", st);
    setData(row, "state", st);
    setText(row.querySelector(".attempts"), (d.attempts || 0) + "/" + (d.max_attempts || "?") + " attempts");
    const http = d.last_status ? "HTTP " + d.last_status : "";
    setText(row.querySelector(".why"), [http, d.last_error].filter(Boolean).join(": "));
    setText(row.querySelector(".when"), "created " + fmtTime(d.created_at, "ms") +
      (d.delivered_at ? " · delivered " + fmtTime(d.delivered_at, "ms") : "") +
      (d.next_attempt_at ? " · next try " + fmtTime(d.next_attempt_at, "ms") : ""));
    const retry = row.querySelector("button[data-action='retry']");
    if (st === "dead" && !retry) {
      row.append(el("button", { type: "button", className: "small primary", dataset: { action: "retry" } }, "Retry"));
    } else if (st !== "dead" && retry) {
      retry.remove();
    }
  }

  async function loadDeliveries() {
    const id = state.selected;
    if (!id) return;
    const filter = $("#delivery-filter").value;
    let q = "?limit=" + DELIVERY_PAGE;
    if (filter) q += "&status=" + enc(filter);
    let r;
    try {
      r = await api("GET", "/api/sessions/" + enc(id) + "/deliveries" + q);
    } catch (e) {
      if (e.status !== 401) {
        const list = $("#deliveries");
        list.replaceChildren(el("li", { className: "empty error" }, e.message));
      }
      return;
    }
    if (state.selected !== id || filter !== $("#delivery-filter").value) return;
    const items = (r && Array.isArray(r.deliveries)) ? r.deliveries : [];
    const list = $("#deliveries");
    reconcile(list, items, "delivery", (d) => d.id, buildDelivery, updateDelivery);
    emptyNote(list, filter ? "No " + filter + " deliveries." : "No webhook deliveries (add a webhook to the session to get some).");
  }

  async function retryDelivery(did, button) {
    const id = state.selected;
    const d = await attempt(() => api("POST", "/api/sessions/" + enc(id) + "/deliveries/" + enc(did) + "/retry"), button);
    if (d) toast("Delivery requeued", "info");
    await loadDeliveries();
  }

  // ---------------------------------------------------------------- event stream

  function setConn(st, text) {
    const c = $("#conn");
    c.dataset.state = st;
    c.textContent = text;
  }

  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (_) { return null; }
  }

  function startStream() {
    stopStream();
    if (!state.key) return;
    let url = "/api/events?events=" + enc(STREAM_EVENTS.join(",")) + "&key=" + enc(state.key);
    if (state.lastEventId) url += "&since=" + enc(state.lastEventId);
    const es = new EventSource(url);
    state.es = es;
    setConn("connecting", "connecting…");
    const track = (ev) => { if (ev.lastEventId) state.lastEventId = ev.lastEventId; };
    es.addEventListener("open", () => {
      setConn("open", "live");
      refreshSessions();
      if (state.selected) {
        afterStatus();
        loadDeliveries();
        if (state.chat) loadMessages(false);
      }
    });
    es.addEventListener("error", () => {
      if (state.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (a bad key is a 401) or gone for good: check, then reopen.
        setConn("closed", "offline");
        es.close();
        state.es = null;
        clearTimeout(state.esRetry);
        state.esRetry = setTimeout(async () => {
          if (!state.key) return;
          try {
            await api("GET", "/api/sessions");
            startStream();
          } catch (e) {
            if (e.status !== 401) state.esRetry = setTimeout(startStream, 5000);
          }
        }, 2000);
      } else {
        setConn("connecting", "reconnecting…");
      }
    });
    es.addEventListener("session.status", (ev) => {
      track(ev);
      const e = parse(ev);
      if (!e || !e.payload) return;
      setStatus(e.session, e.payload.status, e.payload.error);
    });
    es.addEventListener("session.qr", (ev) => {
      track(ev);
      const e = parse(ev);
      if (!e || !e.payload) return;
      const s = state.sessions.get(e.session);
      if (s && s.status !== "SCAN_QR") setStatus(e.session, "SCAN_QR");
      else if (!s) debounce("sessions", 300, refreshSessions);
      if (e.session === state.selected) {
        state.qrEpoch += 1;
        setQr(e.payload.qr, e.payload.data_url);
      }
    });
    es.addEventListener("message.any", (ev) => {
      track(ev);
      const e = parse(ev);
      if (e) onMessage(e.session, e.payload);
    });
    es.addEventListener("message.ack", (ev) => {
      track(ev);
      const e = parse(ev);
      if (e) onAck(e.session, e.payload);
    });
    es.addEventListener("message.revoked", (ev) => {
      track(ev);
      const e = parse(ev);
      if (e) onRevoked(e.session, e.payload);
    });
    es.addEventListener("gone", () => refreshSessions());
  }

  function stopStream() {
    clearTimeout(state.esRetry);
    if (state.es) {
      state.es.close();
      state.es = null;
    }
  }

  // ---------------------------------------------------------------- polling (a safety net)

  function startPolling() {
    stopPolling();
    state.timers.pollDeliveries = setInterval(() => {
      if (!document.hidden && state.selected) loadDeliveries();
    }, DELIVERY_POLL_MS);
    state.timers.pollSessions = setInterval(() => {
      if (!document.hidden && state.key) {
        api("GET", "/api/sessions").then(setSessions).catch(() => { /* shown by the stream state */ });
      }
    }, SESSION_POLL_MS);
  }

  function stopPolling() {
    clearInterval(state.timers.pollDeliveries);
    clearInterval(state.timers.pollSessions);
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const key = $("#key").value.trim();
      if (!key) {
        $("#login-error").textContent = "Enter the API key.";
        return;
      }
      const button = $("#login");
      button.disabled = true;
      try {
        await login(key, false);
      } finally {
        button.disabled = false;
      }
    });
    $("#logout-key").addEventListener("click", logoutKey);
    $("#create-form").addEventListener("submit", createSession);
    $("#refresh-sessions").addEventListener("click", (ev) => attempt(refreshSessions, ev.currentTarget));

    $("#sessions").addEventListener("click", (ev) => {
      const row = ev.target.closest("[data-session]");
      if (!row) return;
      const id = row.getAttribute("data-session");
      const btn = ev.target.closest("button[data-action]");
      if (btn) {
        sessionAction(id, btn.getAttribute("data-action"), btn);
        return;
      }
      select(id);
    });

    $("#chats").addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-chat]");
      if (b) selectChat(b.getAttribute("data-chat"));
    });
    $("#refresh-chats").addEventListener("click", async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      try {
        await loadChats();
        if (state.chat) await loadMessages(false);
      } finally {
        b.disabled = false;
      }
    });
    $("#older-messages").addEventListener("click", () => loadMessages(true));

    $("#send-form").addEventListener("submit", send);

    $("#deliveries").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-action='retry']");
      const row = ev.target.closest("[data-delivery]");
      if (btn && row) retryDelivery(row.getAttribute("data-delivery"), btn);
    });
    $("#delivery-filter").addEventListener("change", () => {
      $("#deliveries").replaceChildren();
      loadDeliveries();
    });
    $("#refresh-deliveries").addEventListener("click", loadDeliveries);

  }

  function boot() {
    wire();
    let key = null;
    try { key = sessionStorage.getItem(KEY_STORE); } catch (_) { /* */ }
    if (key) login(key, true);
    else showLogin("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
