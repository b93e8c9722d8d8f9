// wabridge API docs: renders /openapi.json (OpenAPI 3.1, from utoipa) with
// a "Try it" form per operation. Plain ES2020, no framework, nothing fetched
// from outside the daemon. Text from the document or from responses is only
// ever set with textContent (never innerHTML). The page's extra CSS is added
// through the CSSOM (a constructed stylesheet), which the pages' CSP
// (style-src 'self', no inline styles) allows, unlike a <style> element.
"use strict";

(() => {
  const KEY_STORE = "wabridge.key"; // the dashboard's key, same tab storage
  const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  const MAX_DEPTH = 12; // nesting shown in a schema
  const TEXT_LIMIT = 200000; // characters of a response body shown
  const IMAGE_PREVIEW_LIMIT = 2 * 1024 * 1024;
  const REQUEST_TIMEOUT_MS = 120000;
  const SHOWN_HEADERS = [
    "content-type", "content-length", "content-disposition", "location", "retry-after",
    "www-authenticate", "idempotency-replayed", "x-request-id",
  ];

  // ------------------------------------------------------------------ styles

  const RULES = [
    ".docs-main { max-width: 1100px; margin: 0 auto; padding: 1rem; display: flex; flex-direction: column; gap: 1rem; min-width: 0; }",
    "@media (max-width: 420px) { .docs-main { padding: 0.5rem; gap: 0.6rem; } }",
    ".topbar { flex-wrap: wrap; row-gap: 0; }",
    ".topbar a.brand { color: inherit; text-decoration: none; display: inline-flex; align-items: center; min-height: 44px; }",
    ".docs-sub { color: var(--muted); font-size: 0.95rem; }",
    ".docs-nav { margin-left: auto; display: flex; flex-wrap: wrap; gap: 0 1rem; }",
    ".docs-nav a, .docs-link { color: var(--info); }",
    ".docs-nav a { display: inline-flex; align-items: center; min-height: 44px; }",
    ".docs-title { font-size: 1.35rem; overflow-wrap: anywhere; }",
    ".docs-md { overflow-wrap: anywhere; }",
    ".docs-md ul { margin: 0.3rem 0; padding-left: 1.2rem; }",
    ".docs-md code, .docs-controls p code, .prop-meta code { background: var(--in-bg); padding: 0 0.3em; border-radius: 4px; font-size: 0.9em; overflow-wrap: anywhere; }",
    ".docs-key-row { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; }",
    ".docs-key-row input { flex: 1 1 8rem; width: auto; }",
    ".docs-key-row button { flex: 0 0 auto; }",
    ".docs-ops { display: flex; flex-direction: column; gap: 1.25rem; min-width: 0; }",
    ".docs-tag { display: flex; flex-direction: column; gap: 0.5rem; min-width: 0; }",
    ".docs-tag-head { padding: 0.25rem 0.1rem 0; }",
    ".docs-tag-head h2 { font-size: 1.15rem; overflow-wrap: anywhere; }",
    ".docs-tag-head p { margin: 0.15rem 0 0; }",
    ".docs-tag-ops { display: flex; flex-direction: column; gap: 0.5rem; min-width: 0; }",
    ".op { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); min-width: 0; scroll-margin-top: 4.5rem; }",
    ".op[open] { border-color: var(--muted); }",
    ".op.deprecated .op-path { text-decoration: line-through; }",
    ".op > summary { list-style: none; cursor: pointer; display: grid; grid-template-columns: 4.6rem minmax(0, 1fr) auto; align-items: center; gap: 0.2rem 0.6rem; padding: 0.55rem 0.75rem; min-height: 48px; border-radius: var(--radius); }",
    ".op > summary::-webkit-details-marker { display: none; }",
    ".op > summary::after { content: '\\25B8'; grid-column: 3; grid-row: 1; color: var(--muted); transition: transform 0.15s; }",
    ".op[open] > summary::after { transform: rotate(90deg); }",
    ".op > summary:hover { background: var(--bg); }",
    ".op-method { text-align: center; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }",
    ".op-path { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 600; overflow-wrap: anywhere; min-width: 0; }",
    ".op-summary { grid-column: 2 / 4; color: var(--muted); font-size: 0.9rem; overflow-wrap: anywhere; min-width: 0; }",
    ".op-summary:empty { display: none; }",
    "@media (min-width: 860px) { .op > summary { grid-template-columns: 4.6rem minmax(0, 25rem) minmax(0, 1fr) auto; } .op-summary { grid-column: 3; grid-row: 1; } .op > summary::after { grid-column: 4; } }",
    ".op.plain > summary { display: flex; flex-wrap: wrap; align-items: center; gap: 0.2rem 0.6rem; }",
    ".op.plain > summary::after { margin-left: auto; }",
    ".badge[data-method='GET'], .badge[data-method='HEAD'] { color: var(--info); }",
    ".badge[data-method='POST'] { color: var(--ok); }",
    ".badge[data-method='PUT'], .badge[data-method='PATCH'] { color: var(--warn); }",
    ".badge[data-method='DELETE'] { color: var(--danger); }",
    ".badge[data-code^='2'] { color: var(--ok); }",
    ".badge[data-code^='3'] { color: var(--info); }",
    ".badge[data-code^='4'] { color: var(--warn); }",
    ".badge[data-code^='5'], .badge[data-code='error'] { color: var(--danger); }",
    ".op-body { border-top: 1px solid var(--line); padding: 0.75rem; display: flex; flex-direction: column; gap: 1.1rem; min-width: 0; }",
    ".op-body h3 { font-size: 0.95rem; margin: 0 0 0.4rem; }",
    ".op-body section { min-width: 0; }",
    ".docs-table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }",
    ".docs-table th, .docs-table td { text-align: left; vertical-align: top; padding: 0.35rem 0.6rem 0.35rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }",
    ".docs-table th { color: var(--muted); font-weight: 600; font-size: 0.8rem; }",
    ".docs-table td.name { font-weight: 700; }",
    ".docs-table td.req { font-size: 0.8rem; }",
    ".docs-table .docs-md p { margin: 0; }",
    "@media (max-width: 640px) { .docs-table thead { display: none; } .docs-table, .docs-table tbody, .docs-table tr { display: block; } .docs-table tr { border-bottom: 1px solid var(--line); padding: 0.4rem 0; } .docs-table td { display: inline; border: 0; padding: 0 0.6rem 0 0; } .docs-table td[data-label]::before { content: attr(data-label) ' '; color: var(--muted); } .docs-table td.desc { display: block; padding-top: 0.15rem; } .docs-table td.desc:empty { display: none; } }",
    ".schema { font-size: 0.9rem; min-width: 0; overflow-wrap: anywhere; }",
    ".schema-type, .prop-type { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--info); font-size: 0.88em; overflow-wrap: anywhere; }",
    ".props { display: flex; flex-direction: column; gap: 0.45rem; margin: 0.35rem 0 0 0.1rem; padding-left: 0.7rem; border-left: 2px solid var(--line); min-width: 0; }",
    ".prop { min-width: 0; }",
    ".prop-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.1rem 0.5rem; }",
    ".prop-name { font-weight: 700; overflow-wrap: anywhere; }",
    ".req { color: var(--danger); font-size: 0.75rem; font-weight: 700; }",
    ".prop-desc { margin-top: 0.1rem; }",
    ".prop-desc p { margin: 0.1rem 0; }",
    ".prop-meta { color: var(--muted); font-size: 0.82rem; margin-top: 0.1rem; }",
    ".schema-note { color: var(--muted); font-style: italic; font-size: 0.85rem; }",
    ".variant-label { color: var(--muted); font-size: 0.82rem; margin-top: 0.3rem; }",
    ".media-type { margin-top: 0.4rem; }",
    ".media-type > code { font-size: 0.85rem; }",
    ".resp-list { display: flex; flex-direction: column; gap: 0.5rem; }",
    ".resp-row { border-bottom: 1px solid var(--line); padding-bottom: 0.45rem; min-width: 0; }",
    ".resp-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.2rem 0.6rem; }",
    ".resp-head .docs-md p { margin: 0; }",
    ".resp-media { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.1rem 0.6rem; font-size: 0.88rem; margin-top: 0.2rem; }",
    ".sub-details > summary { cursor: pointer; color: var(--info); font-size: 0.85rem; padding: 0.2rem 0; }",
    ".try { border: 1px dashed var(--line); border-radius: 8px; padding: 0.75rem; display: flex; flex-direction: column; min-width: 0; }",
    "@media (max-width: 420px) { .try { padding: 0.5rem; } .op-body { padding: 0.6rem; } }",
    ".try-grid { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0 0.75rem; }",
    "@media (min-width: 700px) { .try-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } }",
    ".try label .in { margin-left: 0.35rem; }",
    ".try label .mono { color: var(--fg); }",
    ".try textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.86rem; min-height: 9rem; }",
    ".try input[type='file'] { padding: 0.45rem; }",
    ".try-row { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin-top: 0.5rem; }",
    ".try-actions { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin-top: 0.75rem; }",
    ".try-actions .primary { min-width: 7rem; }",
    ".try-hint { color: var(--muted); font-size: 0.82rem; margin: 0.25rem 0 0; }",
    ".code { margin: 0.3rem 0 0; padding: 0.6rem 0.7rem; background: var(--in-bg); border-radius: 8px; white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.84rem; max-height: 30rem; overflow: auto; }",
    ".try-out { display: flex; flex-direction: column; gap: 0.35rem; margin-top: 0.75rem; min-width: 0; }",
    ".try-out:empty { display: none; }",
    ".try-out img { display: block; max-width: min(280px, 100%); height: auto; background: #fff; padding: 6px; border-radius: 6px; image-rendering: pixelated; }",
    ".resp-status { display: flex; flex-wrap: wrap; gap: 0.3rem 0.6rem; align-items: center; }",
    ".hdrs { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.1rem 0.75rem; font-size: 0.85rem; margin: 0; }",
    ".hdrs dt { color: var(--muted); }",
    ".hdrs dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }",
    ".docs-note { padding: 0.5rem 0.7rem; border-left: 3px solid var(--warn); background: var(--in-bg); border-radius: 4px; font-size: 0.9rem; overflow-wrap: anywhere; }",
    ".docs-note.bad { border-left-color: var(--danger); }",
    ".docs-label { font-size: 0.85rem; color: var(--muted); margin: 0.6rem 0 0.1rem; }",
  ];

  function installCss() {
    try {
      if (typeof CSSStyleSheet === "function" && "adoptedStyleSheets" in document && "replaceSync" in CSSStyleSheet.prototype) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(RULES.join("\n"));
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
        return;
      }
    } catch (_) { /* fall through */ }
    // Older browsers: append the rules to app.css's own sheet (CSSOM, also CSP-safe).
    for (const sheet of Array.from(document.styleSheets)) {
      if (!sheet.href || !/\/app\.css$/.test(sheet.href)) continue;
      try {
        for (const rule of RULES) sheet.insertRule(rule, sheet.cssRules.length);
        return;
      } catch (_) { /* not reachable; try the last resort */ }
    }
    const style = document.createElement("style"); // works only without a CSP
    style.textContent = RULES.join("\n");
    document.head.append(style);
  }

  // ------------------------------------------------------------------ helpers

  const $ = (sel) => document.querySelector(sel);
  const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const str = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

  // The one DOM builder both pages use (dom.js).
  const el = window.WabridgeDom.el;

  function note(text, cls) {
    return el("div", { className: cls || "schema-note", text });
  }

  function slug(s) {
    return str(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "x";
  }

  /** Sets a key on a plain object even when it is "__proto__". */
  function setKey(obj, key, value) {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  }

  function json(v) {
    try { return JSON.stringify(v); } catch (_) { return String(v); }
  }

  function humanSize(n) {
    if (n < 1024) return `${n} bytes`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB (${n} bytes)`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB (${n} bytes)`;
  }

  const isJsonish = (mime) => /(^|[/+])json(\s*;|$)/i.test(str(mime).trim()) || /^application\/json/i.test(str(mime));
  const isTextual = (mime) => /^text\/|xml|javascript|ecmascript|yaml|csv|x-www-form-urlencoded|graphql/i.test(str(mime));
  const isStream = (mime) => /^text\/event-stream/i.test(str(mime).trim());

  /** Inline markdown: `code` and **strong**; the rest is text. */
  function inline(text) {
    const out = [];
    for (const part of str(text).split(/(`[^`\n]+`)/)) {
      if (!part) continue;
      if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) {
        out.push(el("code", { text: part.slice(1, -1) }));
        continue;
      }
      for (const bit of part.split(/(\*\*[^*\n]+\*\*)/)) {
        if (!bit) continue;
        if (bit.length > 4 && bit.startsWith("**") && bit.endsWith("**")) out.push(el("strong", { text: bit.slice(2, -2) }));
        else out.push(document.createTextNode(bit));
      }
    }
    return out;
  }

  /** A little markdown: paragraphs (blank lines), "- " lists, inline code. */
  function md(text, cls) {
    const box = el("div", { className: cls ? `docs-md ${cls}` : "docs-md" });
    for (const para of str(text).replace(/\r\n?/g, "\n").split(/\n\s*\n/)) {
      const lines = para.split("\n").filter((l) => l.trim() !== "");
      if (!lines.length) continue;
      if (lines.every((l) => /^\s*[-*]\s+/.test(l))) {
        box.append(el("ul", {}, lines.map((l) => el("li", {}, inline(l.replace(/^\s*[-*]\s+/, ""))))));
      } else {
        box.append(el("p", {}, inline(lines.map((l) => l.trim()).join(" "))));
      }
    }
    return box;
  }

  // ------------------------------------------------------------------ the document

  const state = {
    doc: null,
    base: "",
    ops: [], // {method, path, op, params, id, tags, hay, nodes: []}
    schemaNodes: [], // {name, node}
  };

  /** Follows a local JSON pointer ("#/components/schemas/X"). */
  function resolvePointer(ref) {
    if (typeof ref !== "string" || !ref.startsWith("#/")) return undefined;
    let cur = state.doc;
    for (const raw of ref.slice(2).split("/")) {
      let part;
      try { part = decodeURIComponent(raw); } catch (_) { part = raw; }
      part = part.replace(/~1/g, "/").replace(/~0/g, "~");
      if (!isObj(cur) && !Array.isArray(cur)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
      cur = cur[part];
    }
    return cur;
  }

  /** A parameter, response, request body or path item behind any $ref. */
  function deref(obj) {
    let guard = 0;
    while (isObj(obj) && typeof obj.$ref === "string" && guard++ < 16) {
      const target = resolvePointer(obj.$ref);
      if (!isObj(target)) break;
      obj = target;
    }
    return obj;
  }

  const refName = (ref) => str(ref).split("/").pop();
  const isNullSchema = (s) => isObj(s) && (s.type === "null" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "null"));

  /** The schema under refs and a "null or X" choice: {s, nullable}. */
  function effective(s) {
    let nullable = false;
    const seen = new Set();
    for (let guard = 0; isObj(s) && guard < 24; guard++) {
      if (typeof s.$ref === "string") {
        if (seen.has(s.$ref)) break;
        seen.add(s.$ref);
        const target = resolvePointer(s.$ref);
        if (!isObj(target)) break;
        s = target;
        continue;
      }
      const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : null;
      if (alts && !isObj(s.properties)) {
        const rest = alts.filter((v) => !isNullSchema(v));
        if (rest.length < alts.length) nullable = true;
        if (rest.length === 1) { s = rest[0]; continue; }
      }
      break;
    }
    if (isObj(s) && ((Array.isArray(s.type) && s.type.includes("null")) || s.nullable === true)) nullable = true;
    return { s: isObj(s) ? s : {}, nullable };
  }

  function nullLast(labels) {
    const rest = labels.filter((l) => l !== "null");
    return rest.length < labels.length ? [...rest, "null"] : rest;
  }

  /** A short type: "string", "integer (int64)", "array of Webhook", "MediaIn | null". */
  function typeLabel(s, depth) {
    depth = depth || 0;
    if (s === true || s === undefined || s === null) return "any";
    if (s === false) return "nothing";
    if (!isObj(s) || depth > 6) return "any";
    if (typeof s.$ref === "string") {
      const name = refName(s.$ref);
      const target = resolvePointer(s.$ref);
      if (isObj(target) && typeof target.$ref !== "string") {
        const inner = typeLabel(target, depth + 1);
        if (inner !== "object" && inner !== "any" && inner !== name) return `${name} (${inner})`;
      }
      return name;
    }
    if (Object.prototype.hasOwnProperty.call(s, "const")) return `const ${json(s.const)}`;
    const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : null;
    if (alts) return nullLast(alts.map((v) => (isNullSchema(v) ? "null" : typeLabel(v, depth + 1)))).join(" | ");
    if (Array.isArray(s.allOf)) return s.allOf.map((v) => typeLabel(v, depth + 1)).join(" & ");
    let types = Array.isArray(s.type) ? s.type.map(str) : typeof s.type === "string" ? [s.type] : [];
    if (!types.length) {
      if (isObj(s.properties)) types = ["object"];
      else if (s.items !== undefined) types = ["array"];
      else if (Array.isArray(s.enum)) types = ["enum"];
    }
    if (!types.length) return "any";
    return nullLast(types.map((t) => {
      if (t === "array") return `array of ${typeLabel(s.items, depth + 1)}`;
      if (t === "object" && !isObj(s.properties) && isObj(s.additionalProperties)) return `map of ${typeLabel(s.additionalProperties, depth + 1)}`;
      if (t !== "null" && typeof s.format === "string" && s.format) return `${t} (${s.format})`;
      return t;
    })).join(" | ");
  }

  /** Bytes, as utoipa writes them (Vec<u8>), or a binary string. */
  function looksBinary(schema) {
    const { s } = effective(schema);
    if (s.type === "string" && (s.format === "binary" || s.format === "byte" || s.contentMediaType)) return true;
    if (s.type === "array" && isObj(s.items) && s.items.type === "integer") return true;
    return false;
  }

  function describe(s) {
    if (!isObj(s)) return "";
    if (s.description) return str(s.description);
    const e = effective(s).s;
    return e.description ? str(e.description) : "";
  }

  /** enum, default, example, bounds, flags: one muted line, or null. */
  function metaLine(s) {
    if (!isObj(s)) return null;
    const own = Object.assign({}, s);
    delete own.$ref;
    const m = Object.assign({}, effective(s).s, own);
    const bits = [];
    const codeList = (vals) => vals.flatMap((v, i) => (i ? [", ", el("code", { text: json(v) })] : [el("code", { text: json(v) })]));
    if (Array.isArray(m.enum) && m.enum.length) bits.push(["one of ", ...codeList(m.enum.slice(0, 60))]);
    if (Object.prototype.hasOwnProperty.call(m, "default")) bits.push(["default ", el("code", { text: json(m.default) })]);
    if (Object.prototype.hasOwnProperty.call(m, "example")) bits.push(["example ", el("code", { text: json(m.example) })]);
    else if (Array.isArray(m.examples) && m.examples.length) bits.push(["example ", el("code", { text: json(m.examples[0]) })]);
    if (typeof m.minimum === "number") bits.push([`≥ ${m.minimum}`]);
    if (typeof m.exclusiveMinimum === "number") bits.push([`> ${m.exclusiveMinimum}`]);
    if (typeof m.maximum === "number") bits.push([`≤ ${m.maximum}`]);
    if (typeof m.exclusiveMaximum === "number") bits.push([`< ${m.exclusiveMaximum}`]);
    if (typeof m.minLength === "number") bits.push([`length ≥ ${m.minLength}`]);
    if (typeof m.maxLength === "number") bits.push([`length ≤ ${m.maxLength}`]);
    if (typeof m.minItems === "number") bits.push([`items ≥ ${m.minItems}`]);
    if (typeof m.maxItems === "number") bits.push([`items ≤ ${m.maxItems}`]);
    if (typeof m.pattern === "string") bits.push(["pattern ", el("code", { text: m.pattern })]);
    if (m.readOnly === true) bits.push(["read-only"]);
    if (m.writeOnly === true) bits.push(["write-only"]);
    if (m.deprecated === true) bits.push(["deprecated"]);
    if (!bits.length) return null;
    return el("div", { className: "prop-meta" }, bits.flatMap((b, i) => (i ? [" · ", ...b] : b)));
  }

  /** The fields under a schema (objects, items, variants), or null. */
  function schemaChildren(s, ctx) {
    if (!isObj(s)) return null;
    if (ctx.depth > MAX_DEPTH) return note("… (nested too deep to show)");
    if (typeof s.$ref === "string") {
      if (ctx.seen.has(s.$ref)) return note(`↻ ${refName(s.$ref)}, as above (recursive)`);
      const target = resolvePointer(s.$ref);
      if (!isObj(target)) return note(`unresolved reference ${s.$ref}`);
      const seen = new Set(ctx.seen);
      seen.add(s.$ref);
      return schemaChildren(target, { seen, depth: ctx.depth + 1 });
    }
    const next = { seen: ctx.seen, depth: ctx.depth + 1 };
    const parts = [];
    const alts = Array.isArray(s.oneOf) ? ["one of", s.oneOf] : Array.isArray(s.anyOf) ? ["any of", s.anyOf] : null;
    if (alts) {
      const rest = alts[1].filter((v) => !isNullSchema(v));
      if (rest.length === 1) {
        const c = schemaChildren(rest[0], next);
        if (c) parts.push(c);
      } else if (rest.length > 1) {
        const box = el("div", { className: "props" });
        rest.forEach((v, i) => {
          const row = el("div", { className: "prop" },
            el("div", { className: "prop-head" },
              el("span", { className: "prop-name", text: `option ${i + 1}` }),
              el("span", { className: "prop-type", text: typeLabel(v) })));
          const d = describe(v);
          if (d && !v.$ref) row.append(md(d, "prop-desc"));
          const meta = metaLine(v);
          if (meta) row.append(meta);
          const c = schemaChildren(v, next);
          if (c) row.append(c);
          box.append(row);
        });
        parts.push(el("div", { className: "variant-label", text: `${alts[0]}:` }), box);
      }
    }
    if (Array.isArray(s.allOf)) {
      for (const part of s.allOf) {
        const c = schemaChildren(part, next);
        if (c) parts.push(c);
      }
    }
    if (isObj(s.properties) && Object.keys(s.properties).length) {
      parts.push(propList(s, next));
    } else if (s.additionalProperties === false && !parts.length && effective(s).s.type === "object") {
      parts.push(note("no fields"));
    }
    if (s.items !== undefined && isObj(s.items)) {
      const c = schemaChildren(s.items, next);
      if (c) parts.push(el("div", { className: "variant-label", text: "each item:" }), c);
    }
    if (isObj(s.additionalProperties) && !isObj(s.properties)) {
      const c = schemaChildren(s.additionalProperties, next);
      if (c) parts.push(el("div", { className: "variant-label", text: "each value:" }), c);
    }
    if (!parts.length) return null;
    return parts.length === 1 ? parts[0] : el("div", {}, parts);
  }

  function propList(s, ctx) {
    const required = new Set(Array.isArray(s.required) ? s.required.map(str) : []);
    const box = el("div", { className: "props" });
    for (const [name, ps] of Object.entries(s.properties)) {
      const head = el("div", { className: "prop-head" },
        el("code", { className: "prop-name", text: name }),
        required.has(name) ? el("span", { className: "req", text: "required" }) : null,
        el("span", { className: "prop-type", text: typeLabel(ps) }));
      const row = el("div", { className: "prop" }, head);
      const d = describe(ps);
      if (d) row.append(md(d, "prop-desc"));
      const meta = metaLine(ps);
      if (meta) row.append(meta);
      const kids = schemaChildren(ps, ctx);
      if (kids) row.append(kids);
      box.append(row);
    }
    if (isObj(s.additionalProperties)) {
      box.append(el("div", { className: "prop" },
        el("div", { className: "prop-head" },
          el("span", { className: "prop-name muted", text: "(any other name)" }),
          el("span", { className: "prop-type", text: typeLabel(s.additionalProperties) }))));
    }
    return box;
  }

  /** A schema, readably: its type, description, constraints and fields. */
  function schemaView(schema, mime) {
    const box = el("div", { className: "schema" });
    if (!isObj(schema)) {
      box.append(note("no schema given"));
      return box;
    }
    if (mime && !isJsonish(mime) && looksBinary(schema)) {
      box.append(el("span", { className: "schema-type", text: "binary (the bytes)" }));
      return box;
    }
    box.append(el("div", { className: "prop-head" }, el("span", { className: "schema-type", text: typeLabel(schema) })));
    const d = describe(schema);
    if (d) box.append(md(d, "prop-desc"));
    const meta = metaLine(schema);
    if (meta) box.append(meta);
    const kids = schemaChildren(schema, { seen: new Set(), depth: 0 });
    if (kids) box.append(kids);
    else if (effective(schema).s.type === "object") box.append(note("an object; its fields are not described here"));
    return box;
  }

  /** True if schemaView would show more than the type line. */
  function hasDetail(schema) {
    if (!isObj(schema)) return false;
    const { s } = effective(schema);
    return Boolean(describe(schema) || isObj(s.properties) || s.oneOf || s.anyOf || s.allOf || Array.isArray(s.enum) ||
      (isObj(s.items) && hasDetail(s.items)) || isObj(s.additionalProperties));
  }

  // ------------------------------------------------------------------ examples

  function stringExample(s, name) {
    switch (s.format) {
      case "date-time": return "2025-01-01T12:00:00Z";
      case "date": return "2025-01-01";
      case "uri": case "url": case "uri-reference": return "https://example.com/";
      case "email": return "user@example.com";
      case "uuid": return "00000000-0000-0000-0000-000000000000";
      case "binary": case "byte": return "";
      default: break;
    }
    const n = str(name).toLowerCase();
    if (/url|uri|link|callback/.test(n)) return "https://example.com/";
    if (n === "to" || n === "from" || /phone|chat/.test(n)) return "15551234567";
    if (/^(text|body|caption|message|content)$/.test(n)) return "Hello from wabridge";
    if (/mime|content_?type/.test(n)) return "image/png";
    if (/file_?name/.test(n)) return "photo.png";
    if (/^lang/.test(n)) return "en";
    return "string";
  }

  /**
   * An example value from a schema. opt.full: how many levels of optional
   * fields to include (0: required only; Infinity: everything).
   */
  function exampleOf(s, opt, name, level, depth, seen) {
    level = level || 0;
    depth = depth || 0;
    seen = seen || new Set();
    if (!isObj(s) || depth > 16) return undefined;
    const has = (k) => Object.prototype.hasOwnProperty.call(s, k);
    if (has("example")) return s.example;
    if (Array.isArray(s.examples) && s.examples.length) return s.examples[0];
    if (has("default")) return s.default;
    if (has("const")) return s.const;
    if (Array.isArray(s.enum) && s.enum.length) {
      const v = s.enum.find((x) => x !== null);
      return v === undefined ? null : v;
    }
    if (typeof s.$ref === "string") {
      if (seen.has(s.$ref)) return undefined;
      const next = new Set(seen);
      next.add(s.$ref);
      return exampleOf(resolvePointer(s.$ref), opt, name, level, depth + 1, next);
    }
    const alts = Array.isArray(s.oneOf) ? s.oneOf : Array.isArray(s.anyOf) ? s.anyOf : null;
    if (alts && !isObj(s.properties)) {
      const v = alts.find((x) => !isNullSchema(x));
      return v ? exampleOf(v, opt, name, level, depth + 1, seen) : null;
    }
    if (Array.isArray(s.allOf)) {
      let out;
      for (const part of s.allOf) {
        const v = exampleOf(part, opt, name, level, depth + 1, seen);
        if (isObj(v) && (out === undefined || isObj(out))) out = Object.assign(out || {}, v);
        else if (out === undefined) out = v;
      }
      if (!isObj(s.properties)) return out;
    }
    const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => typeof t === "string" && t !== "null");
    let t = types[0];
    if (!t) {
      if (isObj(s.properties)) t = "object";
      else if (s.items !== undefined) t = "array";
      else if (Array.isArray(s.type) && s.type.includes("null")) t = "null";
    }
    switch (t) {
      case "object": {
        const out = {};
        const required = new Set(Array.isArray(s.required) ? s.required.map(str) : []);
        if (isObj(s.properties)) {
          for (const [k, ps] of Object.entries(s.properties)) {
            if (!required.has(k) && level >= opt.full) continue;
            if (isObj(ps) && ps.readOnly === true) continue;
            const v = exampleOf(ps, opt, k, level + 1, depth + 1, seen);
            if (v !== undefined) setKey(out, k, v);
          }
        }
        return out;
      }
      case "array": {
        const v = exampleOf(s.items, opt, name, level, depth + 1, seen);
        return v === undefined ? [] : [v];
      }
      case "string": return stringExample(s, name);
      case "integer": case "number": return typeof s.minimum === "number" ? s.minimum : 0;
      case "boolean": return true;
      case "null": return null;
      default: return undefined;
    }
  }

  /** Required fields; or, when that is an empty object, the top level's optional ones too. */
  function defaultExample(schema) {
    const min = exampleOf(schema, { full: 0 });
    const { s } = effective(schema);
    if (isObj(min) && !Object.keys(min).length && isObj(s.properties) && Object.keys(s.properties).length) {
      return exampleOf(schema, { full: 1 });
    }
    return min;
  }

  /** "A=x&B=y" or "a, b, c=d" in a body's description: [[name, value]]. */
  function fieldsFromDescription(desc) {
    const d = str(desc).trim();
    const name = "[A-Za-z_][\\w.\\[\\]-]*";
    if (new RegExp(`^${name}=[^&\\s]*(&${name}=[^&\\s]*)+$`).test(d)) {
      return d.split("&").map((p) => { const i = p.indexOf("="); const v = p.slice(i + 1); return [p.slice(0, i), v === "..." ? "" : v]; });
    }
    const tokens = d.split(",").map((x) => x.trim());
    if (tokens.length >= 2 && tokens.every((x) => new RegExp(`^${name}(=[^\\s,]*)?$`).test(x))) {
      return tokens.map((x) => { const i = x.indexOf("="); return i < 0 ? [x, ""] : [x.slice(0, i), x.slice(i + 1)]; });
    }
    return [];
  }

  /** Form fields from an object schema's properties: [[name, value, isFile]]. */
  function fieldsFromSchema(schema) {
    const { s } = effective(schema);
    if (!isObj(s.properties)) return [];
    const ex = exampleOf(schema, { full: 1 }) || {};
    return Object.entries(s.properties).map(([k, ps]) => {
      const v = isObj(ex) && Object.prototype.hasOwnProperty.call(ex, k) ? ex[k] : "";
      return [k, typeof v === "string" ? v : json(v), looksBinary(ps)];
    });
  }

  // ------------------------------------------------------------------ operations

  function mergeParams(common, own) {
    const out = new Map();
    for (const p0 of [...(Array.isArray(common) ? common : []), ...(Array.isArray(own) ? own : [])]) {
      const p = deref(p0);
      if (!isObj(p) || typeof p.name !== "string") continue;
      out.set(`${p.in}\u0000${p.name}`, p);
    }
    return Array.from(out.values());
  }

  function collectOps(doc) {
    const ops = [];
    const ids = new Set();
    for (const [path, item0] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
      const item = deref(item0);
      if (!isObj(item)) continue;
      for (const m of METHODS) {
        const op = item[m];
        if (!isObj(op)) continue;
        let id = `op-${slug(`${m}-${path}`)}`;
        while (ids.has(id)) id += "-";
        ids.add(id);
        const tags = Array.isArray(op.tags) && op.tags.length ? op.tags.map(str) : ["other"];
        const method = m.toUpperCase();
        ops.push({
          method, path, op, id, tags,
          params: mergeParams(item.parameters, op.parameters),
          hay: [method, path, str(op.summary), str(op.operationId), ...tags].join(" ").toLowerCase(),
          nodes: [],
        });
      }
    }
    return ops;
  }

  /** Whether the operation declares that it needs no key (security: [] or [{}]). */
  function isPublic(op) {
    const sec = Array.isArray(op.security) ? op.security : state.doc.security;
    if (!Array.isArray(sec)) return false; // nothing said: send the key
    return sec.length === 0 || sec.some((r) => isObj(r) && Object.keys(r).length === 0);
  }

  function responseTypes(op, successOnly) {
    const types = [];
    for (const [code, r0] of Object.entries(isObj(op.responses) ? op.responses : {})) {
      if (successOnly && !/^2|^default$/i.test(code)) continue;
      const r = deref(r0);
      if (!isObj(r) || !isObj(r.content)) continue;
      for (const t of Object.keys(r.content)) if (!types.includes(t)) types.push(t);
    }
    return types;
  }

  /** A path with break opportunities after each "/". */
  function pathNode(path) {
    const span = el("span", { className: "op-path" });
    str(path).split("/").forEach((seg, i) => {
      if (i) span.append("/", el("wbr"));
      if (seg) span.append(seg);
    });
    return span;
  }

  function opNode(o) {
    const d = el("details", { className: o.op.deprecated ? "op deprecated" : "op", id: o.nodes.length ? `${o.id}-${o.nodes.length}` : o.id });
    d.append(el("summary", {},
      el("span", { className: "badge op-method", dataset: { method: o.method }, text: o.method }),
      pathNode(o.path),
      el("span", { className: "op-summary", text: str(o.op.summary) })));
    let built = false;
    d.addEventListener("toggle", () => {
      if (!d.open) return;
      if (!built) {
        built = true;
        try {
          d.append(opBody(o, d.id));
        } catch (e) {
          d.append(el("div", { className: "op-body" }, note(`Could not show this operation: ${e && e.message}`, "docs-note bad")));
        }
      }
      if (location.hash !== `#${d.id}`) {
        try { history.replaceState(null, "", `#${d.id}`); } catch (_) { /* */ }
      }
    });
    o.nodes.push(d);
    return d;
  }

  function opBody(o, uid) {
    const op = o.op;
    const body = el("div", { className: "op-body" });
    const intro = el("section", {});
    if (op.description) intro.append(md(op.description));
    const facts = [];
    if (op.operationId) facts.push(["operationId ", el("code", { text: str(op.operationId) })]);
    facts.push([isPublic(op) ? "no key needed" : "needs the API key"]);
    if (op.deprecated) facts.push(["deprecated"]);
    intro.append(el("p", { className: "muted small" }, facts.flatMap((f, i) => (i ? [" · ", ...f] : f))));
    body.append(intro);

    if (o.params.length) body.append(el("section", {}, el("h3", { text: "Parameters" }), paramsTable(o.params)));

    const rb = deref(op.requestBody);
    if (isObj(rb) && isObj(rb.content)) body.append(el("section", {}, el("h3", { text: "Request body" }), requestBodyView(rb)));

    if (isObj(op.responses)) body.append(el("section", {}, el("h3", { text: "Responses" }), responsesView(op.responses)));

    body.append(el("section", {}, el("h3", { text: "Try it" }), tryPanel(o, uid)));
    return body;
  }

  function paramsTable(params) {
    const rows = params.map((p) => {
      const schema = isObj(p.schema) ? p.schema : isObj(p.content) ? (Object.values(p.content)[0] || {}).schema : undefined;
      const desc = el("td", { className: "desc" });
      if (p.description) desc.append(md(p.description));
      const meta = metaLine(Object.assign({}, isObj(schema) ? schema : {}, p.example !== undefined ? { example: p.example } : {}, p.deprecated ? { deprecated: true } : {}));
      if (meta) desc.append(meta);
      return el("tr", {},
        el("td", { className: "name" }, el("code", { text: str(p.name) })),
        el("td", { dataset: { label: "in" }, text: str(p.in) }),
        el("td", { className: p.required ? "req" : "muted", text: p.required ? "required" : "optional" }),
        el("td", { dataset: { label: "type" } }, el("span", { className: "prop-type", text: typeLabel(schema) })),
        desc);
    });
    return el("table", { className: "docs-table" },
      el("thead", {}, el("tr", {}, ["Name", "In", "Required", "Type", "Description"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows));
  }

  function requestBodyView(rb) {
    const box = el("div", {});
    if (rb.description) box.append(md(rb.description));
    box.append(el("p", { className: "muted small", text: rb.required ? "Required." : "Optional." }));
    for (const [mime, media] of Object.entries(rb.content)) {
      const m = isObj(media) ? media : {};
      const part = el("div", { className: "media-type" }, el("code", { text: mime }), schemaView(m.schema, mime));
      if (Object.prototype.hasOwnProperty.call(m, "example")) {
        part.append(el("div", { className: "variant-label", text: "example:" }), el("pre", { className: "code", text: prettyValue(m.example) }));
      }
      box.append(part);
    }
    return box;
  }

  function prettyValue(v) {
    if (typeof v === "string") return v;
    try { return JSON.stringify(v, null, 2); } catch (_) { return String(v); }
  }

  function responsesView(responses) {
    const list = el("div", { className: "resp-list" });
    for (const [code, r0] of Object.entries(responses)) {
      const r = deref(r0);
      const row = el("div", { className: "resp-row" });
      row.append(el("div", { className: "resp-head" },
        el("span", { className: "badge", dataset: { code: str(code).toLowerCase() === "default" ? "default" : str(code) }, text: code }),
        isObj(r) && r.description ? md(r.description) : null));
      if (isObj(r) && isObj(r.content)) {
        for (const [mime, media] of Object.entries(r.content)) {
          const schema = isObj(media) ? media.schema : undefined;
          const binary = !isJsonish(mime) && isObj(schema) && looksBinary(schema);
          const line = el("div", { className: "resp-media" },
            el("code", { text: mime }),
            isObj(schema) ? el("span", { className: "prop-type", text: binary ? "binary" : typeLabel(schema) }) : null);
          row.append(line);
          if (!binary && hasDetail(schema)) {
            const det = el("details", { className: "sub-details" }, el("summary", { text: "schema" }));
            let built = false;
            det.addEventListener("toggle", () => {
              if (det.open && !built) { built = true; det.append(schemaView(schema, mime)); }
            });
            row.append(det);
          }
        }
      }
      if (isObj(r) && isObj(r.headers) && Object.keys(r.headers).length) {
        row.append(el("div", { className: "resp-media muted" }, "headers: ",
          Object.keys(r.headers).flatMap((h, i) => (i ? [", ", el("code", { text: h })] : [el("code", { text: h })]))));
      }
      list.append(row);
    }
    return list;
  }

  // ------------------------------------------------------------------ try it

  const shq = (s) => `'${str(s).replace(/'/g, "'\\''")}'`;

  /** "name=value" lines: [[name, value]] without empty values; throws on a line without "=". */
  function parseLines(text) {
    const out = [];
    str(text).split(/\r?\n/).forEach((line, i) => {
      if (!line.trim() || line.trim().startsWith("#")) return;
      const at = line.indexOf("=");
      if (at <= 0) throw new Error(`body line ${i + 1}: expected name=value`);
      const value = line.slice(at + 1);
      if (value !== "") out.push([line.slice(0, at).trim(), value]);
    });
    return out;
  }

  function paramControl(p, id) {
    const schema = effective(p.schema).s;
    const enumVals = Array.isArray(schema.enum) ? schema.enum.filter((v) => v !== null) : null;
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (enumVals && enumVals.length) {
      return el("select", { id },
        el("option", { value: "", text: p.required ? "(choose)" : "(not set)" }),
        enumVals.map((v) => el("option", { value: str(v), text: str(v) })));
    }
    if (types.includes("boolean")) {
      return el("select", { id },
        el("option", { value: "", text: "(not set)" }),
        el("option", { value: "true", text: "true" }),
        el("option", { value: "false", text: "false" }));
    }
    const ex = p.example !== undefined ? p.example : schema.example !== undefined ? schema.example : schema.default;
    const input = el("input", {
      id, type: "text", spellcheck: "false", autocapitalize: "off", autocomplete: "off",
      placeholder: ex !== undefined ? str(ex) : types.includes("array") ? "comma-separated" : typeLabel(p.schema),
    });
    if (types.includes("integer") || types.includes("number")) input.setAttribute("inputmode", "numeric");
    return input;
  }

  /** The body editor for one content type: {node, get()}. */
  function editorFor(uid, mime, media, description) {
    const schema = isObj(media) ? media.schema : undefined;
    const node = el("div", {});
    const areaId = `${uid}-body`;
    if (isJsonish(mime)) {
      const area = el("textarea", { id: areaId, rows: 10, spellcheck: "false", autocapitalize: "off", "aria-label": "JSON body" });
      const fill = (v) => { area.value = v === undefined ? "" : JSON.stringify(v, null, 2); area.dispatchEvent(new Event("input", { bubbles: true })); };
      const initial = isObj(media) && Object.prototype.hasOwnProperty.call(media, "example") ? media.example : defaultExample(schema);
      area.value = initial === undefined ? "" : JSON.stringify(initial, null, 2);
      node.append(area);
      if (isObj(effective(schema).s.properties)) {
        node.append(el("div", { className: "try-row" },
          el("button", { type: "button", className: "ghost small", text: "Required fields", onclick: () => fill(exampleOf(schema, { full: 0 })) }),
          el("button", { type: "button", className: "ghost small", text: "All fields", onclick: () => fill(exampleOf(schema, { full: Infinity })) })));
      }
      return { node, get: () => ({ kind: "json", mime, text: area.value }) };
    }
    if (/^application\/x-www-form-urlencoded/i.test(mime)) {
      let fields = fieldsFromSchema(schema);
      if (!fields.length) fields = fieldsFromDescription(description);
      const area = el("textarea", { id: areaId, rows: 6, spellcheck: "false", autocapitalize: "off", "aria-label": "Form fields" });
      area.value = fields.map(([k, v]) => `${k}=${v}`).join("\n");
      node.append(area, el("p", { className: "try-hint", text: "One name=value a line, values as they are (they are encoded for you); lines with an empty value are left out." }));
      return { node, get: () => ({ kind: "form", mime, fields: parseLines(area.value) }) };
    }
    if (/^multipart\/form-data/i.test(mime)) {
      let fields = fieldsFromSchema(schema);
      if (!fields.length) fields = fieldsFromDescription(description).map(([k, v]) => [k, v, /^(file|media|document|image|upload|attachment)$/i.test(k)]);
      const fileFields = fields.filter((f) => f[2]);
      const textFields = fields.filter((f) => !f[2]);
      const nameInput = el("input", { id: `${uid}-filefield`, type: "text", value: fileFields.length ? fileFields[0][0] : "file", spellcheck: "false", autocapitalize: "off" });
      const fileInput = el("input", { id: `${uid}-file`, type: "file" });
      const area = el("textarea", { id: areaId, rows: 4, spellcheck: "false", autocapitalize: "off", "aria-label": "Other form fields" });
      area.value = textFields.map(([k, v]) => `${k}=${v}`).join("\n");
      node.append(
        el("div", { className: "try-grid" },
          el("div", {}, el("label", { for: nameInput.id, text: "File field name" }), nameInput),
          el("div", {}, el("label", { for: fileInput.id, text: "File" }), fileInput)),
        el("label", { for: areaId, text: "Other fields" }), area,
        el("p", { className: "try-hint", text: "One name=value a line; lines with an empty value are left out." }));
      return {
        node,
        get: () => ({
          kind: "multipart", mime, fileField: nameInput.value.trim(),
          file: fileInput.files && fileInput.files[0] ? fileInput.files[0] : null, fields: parseLines(area.value),
        }),
      };
    }
    if (isTextual(mime)) {
      const area = el("textarea", { id: areaId, rows: 6, spellcheck: "false", "aria-label": "Body" });
      const own = isObj(schema) ? effective(schema).s : {};
      const ex = isObj(media) && media.example !== undefined ? media.example : own.example !== undefined ? own.example : own.default;
      area.value = ex === undefined ? "" : typeof ex === "string" ? ex : json(ex);
      node.append(area);
      return { node, get: () => ({ kind: "raw", mime, text: area.value }) };
    }
    const fileInput = el("input", { id: `${uid}-file`, type: "file", "aria-label": "Body file" });
    node.append(fileInput, el("p", { className: "try-hint", text: "The file is sent as the body, as it is." }));
    return { node, get: () => ({ kind: "file", mime, file: fileInput.files && fileInput.files[0] ? fileInput.files[0] : null }) };
  }

  function bodyEditor(uid, rb) {
    const mimes = Object.keys(rb.content);
    const wrap = el("div", {});
    const area = el("div", {});
    let current = null;
    const build = (mime) => {
      current = editorFor(uid, mime, rb.content[mime], rb.description);
      area.replaceChildren(current.node);
    };
    const head = el("div", { className: "docs-label" }, `Body${rb.required ? " (required)" : ""}, `);
    if (mimes.length > 1) {
      const select = el("select", { "aria-label": "Body content type" }, mimes.map((m) => el("option", { value: m, text: m })));
      select.addEventListener("change", () => {
        build(select.value);
        wrap.dispatchEvent(new Event("input", { bubbles: true }));
      });
      head.append(select);
    } else {
      head.append(el("code", { text: mimes[0] }));
    }
    wrap.append(head, area);
    build(mimes[0]);
    return { node: wrap, get: () => current.get() };
  }

  function tryPanel(o, uid) {
    const op = o.op;
    const box = el("div", { className: "try" });
    const controls = [];
    const grid = el("div", { className: "try-grid" });
    const skipped = [];
    for (const p of o.params) {
      if (!["path", "query", "header"].includes(p.in)) { skipped.push(p.name); continue; }
      const id = `${uid}-p-${slug(`${p.in}-${p.name}`)}`;
      const control = paramControl(p, id);
      grid.append(el("div", {},
        el("label", { for: id }, el("span", { className: "mono", text: str(p.name) }),
          el("span", { className: "in", text: `${p.in}${p.required ? ", required" : ""}` })),
        control));
      controls.push({ p, control });
    }
    const successTypes = responseTypes(op, true);
    let accept = null;
    if (successTypes.some((t) => !isJsonish(t) && !isStream(t))) {
      const id = `${uid}-accept`;
      accept = el("select", { id },
        el("option", { value: "", text: "(not set)" }),
        successTypes.map((t) => el("option", { value: t, text: t })));
      grid.append(el("div", {},
        el("label", { for: id }, el("span", { className: "mono", text: "Accept" }), el("span", { className: "in", text: "header" })),
        accept));
    }
    if (grid.childNodes.length) box.append(grid);
    if (skipped.length) box.append(el("p", { className: "try-hint", text: `Not settable here (cookies): ${skipped.join(", ")}` }));

    const rb = deref(op.requestBody);
    const body = isObj(rb) && isObj(rb.content) && Object.keys(rb.content).length ? bodyEditor(uid, rb) : null;
    if (body) box.append(body.node);

    const streaming = responseTypes(op, false).some(isStream);
    const needsKey = !isPublic(op);
    const curlPre = el("pre", { className: "code", "aria-label": "curl command" });
    const out = el("div", { className: "try-out", "aria-live": "polite" });
    const sendBtn = el("button", { type: "button", className: "primary", text: "Send" });
    const copyBtn = el("button", { type: "button", className: "ghost small", text: "Copy curl" });

    const build = () => buildRequest(o, controls, accept, body);
    const refreshCurl = () => {
      try {
        curlPre.textContent = curlFor(o, build(), needsKey, streaming, successTypes);
      } catch (e) {
        curlPre.textContent = `# ${e.message}`;
      }
    };

    const actions = el("div", { className: "try-actions" });
    if (streaming) {
      box.append(el("p", { className: "docs-note", text: "This route answers with a stream of Server-Sent Events, which this page does not open. Run the curl command below instead: it prints events as they come, until you stop it (Ctrl+C)." }));
    } else {
      actions.append(sendBtn);
      sendBtn.addEventListener("click", () => send(o, build, needsKey, sendBtn, out));
    }
    actions.append(copyBtn);
    copyBtn.addEventListener("click", () => copyText(curlPre, copyBtn));
    box.append(actions, el("div", { className: "docs-label", text: "curl (the key as $WABRIDGE_API_KEY)" }), curlPre, out);
    box.addEventListener("input", refreshCurl);
    box.addEventListener("change", refreshCurl);
    refreshCurl();
    return box;
  }

  /** {method, url, headers, body, problems} from the form; body as the editor gives it. */
  function buildRequest(o, controls, accept, body) {
    let path = o.path;
    const query = new URLSearchParams();
    const headers = [];
    const problems = [];
    for (const { p, control } of controls) {
      const v = control.value;
      if (v === "") {
        if (p.required) problems.push(`${p.name} (${p.in}) is required`);
        continue;
      }
      if (p.in === "path") {
        path = path.split(`{${p.name}}`).join(encodeURIComponent(v));
      } else if (p.in === "query") {
        const types = Array.isArray(effective(p.schema).s.type) ? effective(p.schema).s.type : [effective(p.schema).s.type];
        if (types.includes("array") && p.explode !== false) v.split(",").map((x) => x.trim()).filter(Boolean).forEach((x) => query.append(p.name, x));
        else query.append(p.name, v);
      } else if (p.in === "header") {
        headers.push([p.name, v]);
      }
    }
    if (accept && accept.value) headers.push(["Accept", accept.value]);
    const qs = query.toString();
    return {
      method: o.method,
      url: `${state.base}${path}${qs ? `?${qs}` : ""}`,
      headers,
      body: body ? body.get() : null,
      problems,
    };
  }

  function outputName(types, acceptValue) {
    const t = acceptValue || types.find((x) => !isJsonish(x) && !isTextual(x) && !isStream(x));
    if (!t || isJsonish(t) || isTextual(t)) return null;
    const ext = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "audio/ogg": "ogg", "video/mp4": "mp4", "application/pdf": "pdf" }[t.split(";")[0].trim().toLowerCase()];
    return `response.${ext || "bin"}`;
  }

  function curlFor(o, req, needsKey, streaming, successTypes) {
    const parts = ["curl -sS"];
    if (streaming) parts[0] += " -N";
    const hasBody = req.body && req.body.kind;
    if (!(req.method === "GET" && !hasBody) && !(req.method === "POST" && hasBody)) parts[0] += ` -X ${req.method}`;
    parts[0] += ` ${shq(location.origin + req.url)}`;
    if (needsKey) parts.push('-H "Authorization: Bearer $WABRIDGE_API_KEY"');
    for (const [k, v] of req.headers) parts.push(`-H ${shq(`${k}: ${v}`)}`);
    const b = req.body;
    if (b) {
      if (b.kind === "json") {
        let text = b.text;
        try { if (text.trim()) text = JSON.stringify(JSON.parse(text)); } catch (_) { /* as typed */ }
        parts.push(`-H ${shq(`Content-Type: ${b.mime}`)}`, `--data-raw ${shq(text)}`);
      } else if (b.kind === "form") {
        for (const [k, v] of b.fields) parts.push(`--data-urlencode ${shq(`${k}=${v}`)}`);
        if (!b.fields.length) parts.push(`-H ${shq(`Content-Type: ${b.mime}`)}`, "--data-raw ''");
      } else if (b.kind === "multipart") {
        if (b.fileField) parts.push(`-F ${shq(`${b.fileField}=@${b.file ? b.file.name : "path/to/file"}`)}`);
        for (const [k, v] of b.fields) parts.push(`--form-string ${shq(`${k}=${v}`)}`);
      } else if (b.kind === "raw") {
        parts.push(`-H ${shq(`Content-Type: ${b.mime}`)}`, `--data-binary ${shq(b.text)}`);
      } else if (b.kind === "file") {
        parts.push(`-H ${shq(`Content-Type: ${b.mime}`)}`, `--data-binary ${shq(`@${b.file ? b.file.name : "path/to/file"}`)}`);
      }
    }
    const acceptHeader = req.headers.find(([k]) => k.toLowerCase() === "accept");
    const outFile = streaming ? null : outputName(successTypes, acceptHeader ? acceptHeader[1] : "");
    if (outFile) parts.push(`-o ${outFile}`);
    return parts.join(" \\\n  ");
  }

  async function copyText(pre, btn) {
    const text = pre.textContent;
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (_) { /* fall back to a selection */ }
    const sel = window.getSelection();
    if (!ok && sel) {
      const range = document.createRange();
      range.selectNodeContents(pre);
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      if (ok) sel.removeAllRanges();
    }
    btn.textContent = ok ? "Copied" : "Selected: copy it";
    setTimeout(() => { btn.textContent = "Copy curl"; }, 1800);
  }

  function currentKey() {
    return $("#docs-key").value.trim();
  }

  async function send(o, build, needsKey, btn, out) {
    out.replaceChildren();
    let req;
    try {
      req = build();
      if (req.problems.length) throw new Error(`${req.problems.join("; ")}.`);
    } catch (e) {
      out.append(el("p", { className: "docs-note bad", text: e.message }));
      return;
    }
    const headers = new Headers();
    try {
      for (const [k, v] of req.headers) headers.set(k, v);
    } catch (e) {
      out.append(el("p", { className: "docs-note bad", text: `A header is not valid: ${e.message}` }));
      return;
    }
    const key = currentKey();
    if (needsKey && key) headers.set("Authorization", `Bearer ${key}`);
    let fetchBody;
    const b = req.body;
    if (b && req.method !== "GET" && req.method !== "HEAD") {
      if (b.kind === "json") {
        if (b.text.trim()) {
          try { JSON.parse(b.text); } catch (e) {
            out.append(el("p", { className: "docs-note bad", text: `The body is not valid JSON: ${e.message}` }));
            return;
          }
        }
        headers.set("Content-Type", b.mime);
        fetchBody = b.text;
      } else if (b.kind === "form") {
        fetchBody = new URLSearchParams(b.fields);
      } else if (b.kind === "multipart") {
        fetchBody = new FormData();
        if (b.file && b.fileField) fetchBody.append(b.fileField, b.file, b.file.name);
        for (const [k, v] of b.fields) fetchBody.append(k, v);
      } else if (b.kind === "raw") {
        headers.set("Content-Type", b.mime);
        fetchBody = b.text;
      } else if (b.kind === "file") {
        headers.set("Content-Type", b.mime);
        fetchBody = b.file || "";
      }
    }
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; ctrl.abort(); }, REQUEST_TIMEOUT_MS);
    btn.disabled = true;
    btn.textContent = "Sending…";
    const t0 = performance.now();
    try {
      const res = await fetch(req.url, {
        method: req.method, headers, body: fetchBody, cache: "no-store", credentials: "same-origin",
        redirect: "follow", signal: ctrl.signal,
      });
      await showResponse(res, ctrl, t0, req, out, needsKey && !key);
    } catch (e) {
      const msg = timedOut ? `No answer within ${REQUEST_TIMEOUT_MS / 1000} s.` : `The request failed: ${e && e.message ? e.message : e}`;
      out.append(el("div", { className: "resp-status" }, el("span", { className: "badge", dataset: { code: "error" }, text: "error" })),
        el("p", { className: "docs-note bad", text: msg }));
    } finally {
      clearTimeout(timer);
      btn.disabled = false;
      btn.textContent = "Send";
    }
  }

  async function showResponse(res, ctrl, t0, req, out, noKey) {
    const ms = Math.round(performance.now() - t0);
    const ct = res.headers.get("content-type") || "";
    out.append(el("div", { className: "resp-status" },
      el("span", { className: "badge", dataset: { code: String(res.status) }, text: String(res.status) }),
      el("span", { text: res.statusText || "" }),
      el("span", { className: "muted small", text: `${req.method} ${req.url} · ${ms} ms` })));
    const shown = SHOWN_HEADERS.filter((h) => res.headers.has(h));
    if (shown.length) {
      out.append(el("dl", { className: "hdrs" }, shown.flatMap((h) => [el("dt", { text: h }), el("dd", { text: res.headers.get(h) })])));
    }
    if (res.status === 401 && noKey) out.append(el("p", { className: "docs-note", text: "No API key entered: fill in the key at the top of the page." }));
    if (isStream(ct)) {
      ctrl.abort();
      out.append(el("p", { className: "docs-note", text: "The answer is an event stream, which this page does not read: use the curl command above." }));
      return;
    }
    if (req.method === "HEAD" || res.status === 204 || res.status === 304) {
      out.append(note("(no body)"));
      return;
    }
    if (isJsonish(ct) || isTextual(ct) || !ct) {
      let text = await res.text();
      if (!ct && /[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 512))) {
        out.append(note(`binary body, ${humanSize(new Blob([text]).size)}`));
        return;
      }
      if (isJsonish(ct) || (!ct && /^\s*[[{]/.test(text))) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* as it came */ }
      }
      if (!text) {
        out.append(note("(empty body)"));
        return;
      }
      const cut = text.length > TEXT_LIMIT;
      out.append(el("pre", { className: "code", text: cut ? text.slice(0, TEXT_LIMIT) : text }));
      if (cut) out.append(note(`… ${text.length - TEXT_LIMIT} more characters not shown`));
      return;
    }
    const blob = await res.blob();
    out.append(el("p", { className: "small" }, "Binary body: ", el("strong", { text: humanSize(blob.size) }), el("span", { className: "muted", text: ` (${ct})` })));
    if (/^image\//i.test(ct) && blob.size > 0 && blob.size <= IMAGE_PREVIEW_LIMIT) {
      const url = await new Promise((resolve) => {
        const r = new FileReader();
        r.onload = () => resolve(typeof r.result === "string" ? r.result : null);
        r.onerror = () => resolve(null);
        r.readAsDataURL(blob);
      });
      if (url && url.startsWith("data:image/")) out.append(el("img", { src: url, alt: "The image the route answered" }));
    }
  }

  // ------------------------------------------------------------------ page

  function renderInfo(doc) {
    const info = isObj(doc.info) ? doc.info : {};
    const title = str(info.title) || "API";
    document.title = `${title} API docs`;
    $("#docs-title").textContent = title;
    const version = $("#docs-version");
    version.textContent = info.version ? `v${str(info.version)}` : "";
    version.hidden = !info.version;
    $("#docs-description").replaceChildren(...(info.description ? [md(info.description)] : []));
    const bits = [];
    if (doc.openapi) bits.push(`OpenAPI ${str(doc.openapi)}`);
    if (isObj(info.license) && info.license.name) bits.push(`License ${str(info.license.name)}`);
    const schemes = isObj(doc.components) && isObj(doc.components.securitySchemes) ? doc.components.securitySchemes : {};
    const auth = Object.entries(schemes).map(([name, s]) => {
      if (!isObj(s)) return name;
      if (s.type === "http" && /^bearer$/i.test(str(s.scheme))) return `${name} (Authorization: Bearer)`;
      if (s.type === "http" && /^basic$/i.test(str(s.scheme))) return `${name} (HTTP Basic)`;
      if (s.type === "apiKey") return `${name} (${str(s.in)} ${str(s.name)})`;
      return `${name} (${str(s.type)})`;
    });
    if (auth.length) bits.push(`Auth: ${auth.join(", ")}`);
    $("#docs-meta").textContent = bits.length ? `${bits.join(" · ")} ·` : "";
  }

  function renderOps(doc) {
    const order = [];
    const about = new Map();
    for (const t of Array.isArray(doc.tags) ? doc.tags : []) {
      if (!isObj(t) || typeof t.name !== "string" || about.has(t.name)) continue;
      about.set(t.name, t);
      order.push(t.name);
    }
    for (const o of state.ops) for (const t of o.tags) if (!order.includes(t)) order.push(t);
    const box = $("#docs-ops");
    box.replaceChildren();
    for (const tag of order) {
      const ops = state.ops.filter((o) => o.tags.includes(tag));
      if (!ops.length) continue;
      const t = about.get(tag) || {};
      const headId = `tag-${slug(tag)}`;
      const section = el("section", { className: "docs-tag", "aria-labelledby": headId, dataset: { tag } },
        el("div", { className: "docs-tag-head" },
          el("h2", { id: headId, text: tag }),
          t.description ? md(t.description, "muted small") : null),
        el("div", { className: "docs-tag-ops" }, ops.map(opNode)));
      box.append(section);
    }
  }

  function renderSchemas(doc) {
    const schemas = isObj(doc.components) && isObj(doc.components.schemas) ? doc.components.schemas : {};
    const list = $("#docs-schema-list");
    list.replaceChildren();
    state.schemaNodes = [];
    for (const [name, schema] of Object.entries(schemas)) {
      const d = el("details", { className: "op plain", id: `schema-${slug(name)}` },
        el("summary", {},
          el("span", { className: "op-path", text: name }),
          el("span", { className: "prop-type", text: typeLabel(schema) })));
      let built = false;
      d.addEventListener("toggle", () => {
        if (d.open && !built) {
          built = true;
          d.append(el("div", { className: "op-body" }, schemaView(schema, "application/json")));
        }
      });
      list.append(d);
      state.schemaNodes.push({ name: name.toLowerCase(), node: d });
    }
    $("#docs-schemas").hidden = !state.schemaNodes.length;
  }

  function applyFilter() {
    const terms = $("#filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const o of state.ops) {
      const hit = terms.every((t) => o.hay.includes(t));
      if (hit) shown++;
      for (const n of o.nodes) n.hidden = !hit;
    }
    for (const section of document.querySelectorAll("#docs-ops > .docs-tag")) {
      section.hidden = !section.querySelector(".op:not([hidden])");
    }
    let schemasShown = 0;
    for (const s of state.schemaNodes) {
      const hit = terms.every((t) => s.name.includes(t));
      s.node.hidden = !hit;
      if (hit) schemasShown++;
    }
    $("#docs-schemas").hidden = !schemasShown;
    const total = state.ops.length;
    $("#filter-count").textContent = terms.length
      ? (shown ? `${shown} of ${total} operations` : `No operation matches (of ${total}).`)
      : `${total} operations`;
  }

  function openFromHash() {
    let id = "";
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (_) { return; }
    if (!id) return;
    const node = document.getElementById(id);
    if (!node || node.tagName !== "DETAILS") return;
    if (node.hidden) {
      $("#filter").value = "";
      applyFilter();
    }
    node.open = true;
    node.scrollIntoView({ block: "start" });
  }

  function wireKey() {
    const input = $("#docs-key");
    try { input.value = sessionStorage.getItem(KEY_STORE) || ""; } catch (_) { /* storage may be off */ }
    input.addEventListener("input", () => {
      const v = input.value.trim();
      try {
        if (v) sessionStorage.setItem(KEY_STORE, v);
        else sessionStorage.removeItem(KEY_STORE);
      } catch (_) { /* */ }
    });
    const showBtn = $("#docs-key-show");
    showBtn.addEventListener("click", () => {
      const visible = input.type === "password";
      input.type = visible ? "text" : "password";
      showBtn.textContent = visible ? "Hide" : "Show";
      showBtn.setAttribute("aria-pressed", String(visible));
    });
    $("#docs-key-forget").addEventListener("click", () => {
      input.value = "";
      try { sessionStorage.removeItem(KEY_STORE); } catch (_) { /* */ }
      input.focus();
    });
  }

  function wireFilter() {
    const input = $("#filter");
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(applyFilter, 80);
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && input.value) {
        input.value = "";
        applyFilter();
      }
    });
  }

  async function load() {
    const status = $("#docs-status");
    let doc;
    try {
      const res = await fetch("/openapi.json", { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
      if (!res.ok) throw new Error(`the daemon answered ${res.status}`);
      doc = await res.json();
      if (!isObj(doc)) throw new Error("not a JSON object");
    } catch (e) {
      status.textContent = `Could not load /openapi.json: ${e && e.message ? e.message : e}`;
      status.className = "error";
      return;
    }
    state.doc = doc;
    const server = Array.isArray(doc.servers) && isObj(doc.servers[0]) ? str(doc.servers[0].url) : "";
    state.base = server.startsWith("/") && !server.startsWith("//") ? server.replace(/\/+$/, "") : "";
    renderInfo(doc);
    state.ops = collectOps(doc);
    renderOps(doc);
    renderSchemas(doc);
    status.hidden = true;
    applyFilter();
    openFromHash();
  }

  function boot() {
    installCss();
    wireKey();
    wireFilter();
    window.addEventListener("hashchange", openFromHash);
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
