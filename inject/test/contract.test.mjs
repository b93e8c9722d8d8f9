// Contract test: keeps the sandbox's `window.WPP` and bridge.js faithful to
// the real @wppconnect/wa-js API, as declared in its .d.ts files. The sandbox
// may implement less than wa-js, never something different: a member wa-js
// lacks, or a function taking more arguments than wa-js's, would let tests
// pass against the sandbox and fail against WhatsApp Web.
//
// Paths can be overridden (to run against fixtures):
//   WPP_SANDBOX_JS=/path/wpp.js BRIDGE_JS=/path/bridge.js node --test test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WAJS_DTS = path.resolve(HERE, '../node_modules/@wppconnect/wa-js/dist/index.d.ts');
const SANDBOX_JS = path.resolve(process.env.WPP_SANDBOX_JS || path.join(HERE, '../../src/sandbox/assets/wpp.js'));
const BRIDGE_JS = path.resolve(process.env.BRIDGE_JS || path.join(HERE, '../bridge.js'));

const ts = loadTypeScript();
if (!ts || !fs.existsSync(WAJS_DTS)) {
  test('inject/ dependencies are installed', () => {
    assert.fail('typescript or @wppconnect/wa-js is missing from inject/node_modules: run `npm ci` in inject/');
  });
} else {
  defineTests();
}

function loadTypeScript() {
  try {
    return createRequire(import.meta.url)('typescript');
  } catch {
    return null;
  }
}

// Computed once, on first use, so a failure is reported by a test.
function once(fn) {
  let done = false;
  let value;
  return () => {
    if (!done) { value = fn(); done = true; }
    return value;
  };
}

function defineTests() {
  const waApi = once(() => extractWaApi(WAJS_DTS));
  const sandbox = once(() => walkSandbox(loadSandboxWpp(SANDBOX_JS)));
  const bridgeUses = once(() => collectBridgeUses(BRIDGE_JS));

  test('sanity: the checks below are not vacuous', () => {
    const wa = waApi();
    const expect = {
      'chat.sendTextMessage': 'function',
      'chat.sendFileMessage': 'function',
      'chat.getMessages': 'function',
      'conn.getAuthCode': 'function',
      'contact.queryWidExists': 'function',
      'loader.onReady': 'function',
      on: 'function',
      isReady: 'value',
      chat: 'namespace',
    };
    for (const [p, kind] of Object.entries(expect)) {
      const info = wa.lookup(p);
      assert.ok(info, `wa-js extractor did not find ${p}`);
      assert.equal(info.kind, kind, `wa-js ${p}: expected a ${kind}, extractor says ${info.kind}`);
    }
    assert.ok(wa.lookup('chat.sendTextMessage').maxArgs >= 3, 'chat.sendTextMessage should take (chatId, content, options)');
    assert.equal(wa.lookup('chat.sendTextMessage').minArgs, 2);
    assert.equal(wa.lookup('chat.notAThing'), undefined, 'lookup of an unknown member must fail');

    const members = [...sandbox().values()].filter((m) => m.kind !== 'namespace').length;
    assert.ok(members >= 10, `only ${members} members found in the sandbox WPP (${SANDBOX_JS})`);
    const paths = new Set(bridgeUses().map((u) => u.path));
    assert.ok(paths.size >= 5, `only ${paths.size} WPP paths found in ${BRIDGE_JS}`);
  });

  test('sandbox WPP offers only wa-js members, with compatible shapes', () => {
    const wa = waApi();
    const problems = [];
    for (const [p, sb] of sandbox()) {
      const real = wa.lookup(p);
      const where = `sandbox WPP.${p}`;
      if (!real) {
        problems.push(`${where}: wa-js 4.6.0 has no such member`);
      } else if (sb.kind === 'function') {
        if (real.kind !== 'function' && real.kind !== 'class') {
          problems.push(`${where}: a function in the sandbox, a ${real.kind} in wa-js`);
        } else if (sb.length > real.maxArgs) {
          problems.push(`${where}: declares ${sb.length} parameters, wa-js takes at most ${real.maxArgs}`);
        }
      } else if (sb.kind === 'namespace') {
        // A plain object may stand for a wa-js namespace or object value;
        // its members are checked on their own.
        if (real.kind === 'function' || real.kind === 'class') {
          problems.push(`${where}: an object in the sandbox, a ${real.kind} in wa-js`);
        }
      } else if (real.kind !== 'value') {
        problems.push(`${where}: a plain value in the sandbox, a ${real.kind} in wa-js`);
      }
    }
    if (problems.length) assert.fail(`${SANDBOX_JS} diverges from wa-js:\n  ${problems.join('\n  ')}`);
  });

  test('bridge.js uses only wa-js members, with valid arity, that the sandbox offers', () => {
    const wa = waApi();
    const sb = sandbox();
    const problems = [];
    for (const use of bridgeUses()) {
      const where = `${path.basename(BRIDGE_JS)}:${use.line} WPP.${use.path}${use.args === null ? '' : '()'}`;
      const real = wa.lookup(use.path);
      if (!real) {
        problems.push(`${where}: wa-js 4.6.0 has no such member`);
      } else if (use.args !== null) {
        if (real.kind !== 'function') {
          problems.push(`${where}: called, but it is a ${real.kind} in wa-js`);
        } else if (!use.spread && (use.args < real.minArgs || use.args > real.maxArgs)) {
          problems.push(`${where}: called with ${use.args} arguments, wa-js takes ${real.minArgs}..${real.maxArgs}`);
        }
      }
      const mock = sb.get(use.path);
      if (!mock) {
        problems.push(`${where}: the sandbox WPP does not offer it`);
      } else if (use.args !== null && mock.kind !== 'function') {
        problems.push(`${where}: called, but it is a ${mock.kind} in the sandbox`);
      }
    }
    if (problems.length) assert.fail(`${BRIDGE_JS} misuses WPP:\n  ${problems.join('\n  ')}`);
  });

  test('bridge.js NEEDS and WANTS list exactly the wa-js members it uses (what INCOMPATIBLE checks, and what one call may lack)', () => {
    const src = fs.readFileSync(BRIDGE_JS, 'utf8');
    const list = (name) => {
      const m = new RegExp(`const ${name} = (\\[[\\s\\S]*?\\]);`).exec(src);
      assert.ok(m, `bridge.js declares const ${name} = [...]`);
      return JSON.parse(m[1].replace(/'/g, '"').replace(/,\s*\]/, ']'));
    };
    const wants = list('WANTS');
    const needs = new Set([...list('NEEDS'), ...wants]);
    assert.deepEqual(wants.filter((p) => list('NEEDS').includes(p)), [], 'a member is in NEEDS or WANTS, not both');
    const used = new Set(bridgeUses().map((u) => u.path));
    const missing = [...used].filter((p) => !needs.has(p)).sort();
    const extra = [...needs].filter((p) => !used.has(p)).sort();
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, JSON.stringify([...used].sort()));
  });

  test('events bridge.js listens to and the sandbox emits are wa-js events', () => {
    const names = waEventNames();
    assert.ok(names.has('chat.new_message') && names.has('conn.auth_code_change'), 'event extractor found too little');
    assert.ok(!names.has('chat.not_an_event'));
    const problems = [];
    const listened = [...fs.readFileSync(BRIDGE_JS, 'utf8').matchAll(/WPP\.on\(\s*'([^']+)'/g)].map((m) => m[1]);
    assert.ok(listened.length >= 5, `only ${listened.length} WPP.on calls found in ${BRIDGE_JS}`);
    for (const n of listened) if (!names.has(n)) problems.push(`bridge.js listens to '${n}', which wa-js does not emit`);
    const emitted = [...fs.readFileSync(SANDBOX_JS, 'utf8').matchAll(/\bemit\(\s*'([^']+)'/g)].map((m) => m[1]);
    for (const n of emitted) if (!names.has(n)) problems.push(`the sandbox emits '${n}', which wa-js does not`);
    for (const n of listened) if (!emitted.includes(n)) problems.push(`bridge.js listens to '${n}', which the sandbox never emits`);
    if (problems.length) assert.fail(problems.join('\n'));
  });
}

// Event names declared in wa-js's `*/events/eventTypes.d.ts` files.
function waEventNames() {
  const dist = path.dirname(WAJS_DTS);
  const out = new Set();
  for (const ns of fs.readdirSync(dist)) {
    const f = path.join(dist, ns, 'events', 'eventTypes.d.ts');
    if (!fs.existsSync(f)) continue;
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^\s*'([a-z_]+\.[a-z_]+)'\??:/gm)) out.add(m[1]);
  }
  return out;
}

// --- wa-js: member paths from the type declarations -------------------------
//
// Returns { members, lookup(path) }. `members` maps every member path
// reachable through namespaces from the WPP root ("chat.sendTextMessage",
// "on", "isReady") to one of
//   { kind: 'namespace' }
//   { kind: 'function' | 'class', minArgs, maxArgs }   (maxArgs may be Infinity)
//   { kind: 'value' }
// lookup() also resolves paths into a value's type (e.g. "config.poweredBy"),
// which are not enumerated up front: the models' types are huge.
function extractWaApi(entry) {
  const program = ts.createProgram([entry], {
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  });
  const checker = program.getTypeChecker();
  const rootFile = program.getSourceFile(entry);
  const root = rootFile && checker.getSymbolAtLocation(rootFile);
  if (!root) throw new Error(`cannot load wa-js declarations from ${entry}`);

  const members = new Map();
  const types = new Map(); // path -> ts.Type, for lookups below values

  const resolve = (s) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

  function arity(signatures) {
    let minArgs = Infinity;
    let maxArgs = 0;
    for (const sig of signatures) {
      const params = sig.getParameters(); // excludes `this`
      let required = 0;
      let rest = false;
      params.forEach((p, i) => {
        const d = p.valueDeclaration;
        if (d && ts.isParameter(d)) {
          if (d.dotDotDotToken) rest = true;
          else if (!checker.isOptionalParameter(d)) required = i + 1;
        } else {
          required = i + 1; // synthesized parameter: assume required
        }
      });
      // Loosest over overloads: any overload that accepts a count is fine.
      minArgs = Math.min(minArgs, required);
      maxArgs = Math.max(maxArgs, rest ? Infinity : params.length);
    }
    return { minArgs, maxArgs };
  }

  function describe(type) {
    const t = checker.getNonNullableType(type);
    const calls = t.getCallSignatures();
    if (calls.length) return { kind: 'function', ...arity(calls) };
    const ctors = t.getConstructSignatures();
    if (ctors.length) return { kind: 'class', ...arity(ctors) };
    return { kind: 'value' };
  }

  // `stack` holds the namespaces being walked, against re-export cycles.
  function walk(moduleSymbol, prefix, stack) {
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const sym = resolve(exported);
      if (!sym.declarations || !sym.declarations.length) continue; // unresolved import
      const p = prefix + exported.name; // the exported name, not the target's
      const isNamespace = (sym.flags & ts.SymbolFlags.ValueModule) !== 0;
      const otherValue = (sym.flags & ts.SymbolFlags.Value & ~ts.SymbolFlags.ValueModule) !== 0;
      if (otherValue) {
        const type = checker.getTypeOfSymbol(sym);
        types.set(p, type);
        members.set(p, describe(type));
      } else if (isNamespace) {
        members.set(p, { kind: 'namespace' });
      } else {
        continue; // types and interfaces: nothing at run time
      }
      if (isNamespace && !stack.has(sym)) walk(sym, p + '.', new Set(stack).add(sym));
    }
  }
  walk(root, '', new Set([root]));

  function lookup(p) {
    if (members.has(p)) return members.get(p);
    // Descend from the longest known prefix, only if that is a typed value.
    const segs = p.split('.');
    let i = segs.length - 1;
    while (i > 0 && !members.has(segs.slice(0, i).join('.'))) i--;
    let type = i > 0 ? types.get(segs.slice(0, i).join('.')) : undefined;
    if (!type) return undefined;
    for (const seg of segs.slice(i)) {
      const prop = checker.getPropertyOfType(checker.getApparentType(checker.getNonNullableType(type)), seg);
      if (!prop) return undefined;
      type = checker.getTypeOfSymbol(prop);
    }
    const info = describe(type);
    members.set(p, info);
    types.set(p, type);
    return info;
  }

  return { members, lookup };
}

// --- sandbox: the WPP that wpp.js defines ------------------------------------

// Evaluates wpp.js as a classic script in a bare context whose global is
// `window`. Browser APIs it must not touch while being defined throw.
function loadSandboxWpp(file) {
  const context = vm.createContext({ console });
  context.window = context;
  for (const name of ['document', 'localStorage', 'sessionStorage', 'indexedDB', 'WebSocket', 'fetch', 'XMLHttpRequest', 'location']) {
    Object.defineProperty(context, name, {
      get() { throw new Error(`${path.basename(file)} used window.${name} while being defined`); },
    });
  }
  vm.runInContext(fs.readFileSync(file, 'utf8'), context, { filename: file });
  const wpp = context.WPP;
  assert.ok(wpp && typeof wpp === 'object', `${file} did not define window.WPP`);
  return wpp;
}

// Objects from the vm context have that realm's Object.prototype.
function isPlainObject(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

// path -> { kind: 'namespace' } | { kind: 'function', length } | { kind: 'value' }
function walkSandbox(wpp) {
  const out = new Map();
  (function walk(obj, prefix, stack) {
    for (const key of Object.keys(obj)) {
      if (key.startsWith('_')) continue;
      const p = prefix + key;
      const d = Object.getOwnPropertyDescriptor(obj, key);
      if (d.get || d.set) {
        out.set(p, { kind: 'value' }); // a getter is a value; don't run it
      } else if (typeof d.value === 'function') {
        out.set(p, { kind: 'function', length: d.value.length });
      } else if (isPlainObject(d.value)) {
        out.set(p, { kind: 'namespace' });
        if (!stack.has(d.value)) walk(d.value, p + '.', new Set(stack).add(d.value));
      } else {
        out.set(p, { kind: 'value' });
      }
    }
  })(wpp, '', new Set([wpp]));
  return out;
}

// --- bridge.js: the WPP members it uses ----------------------------------------

// Returns [{ path, args, spread, line }], args === null for a property read.
// Roots: `WPP`, `window.WPP`, and local aliases like `const W = window.WPP`
// (by name, ignoring scope: bridge.js does not shadow them).
function collectBridgeUses(file) {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const aliases = new Map(); // identifier -> path segments below WPP

  function names(node) {
    const out = [];
    while (ts.isPropertyAccessExpression(node)) {
      out.unshift(node.name.text);
      node = node.expression;
    }
    if (!ts.isIdentifier(node)) return null;
    out.unshift(node.text);
    return out;
  }

  function wppPath(node) {
    const n = names(node);
    if (!n) return null;
    if (n[0] === 'WPP') return n.slice(1);
    if ((n[0] === 'window' || n[0] === 'globalThis') && n[1] === 'WPP') return n.slice(2);
    if (aliases.has(n[0])) return [...aliases.get(n[0]), ...n.slice(1)];
    return null;
  }

  // Pass 1, in source order so aliases of aliases resolve.
  (function findAliases(node) {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const p = wppPath(node.initializer);
      if (p) aliases.set(node.name.text, p);
    }
    ts.forEachChild(node, findAliases);
  })(sf);

  const uses = [];
  (function visit(node) {
    const outermost = ts.isPropertyAccessExpression(node)
      && !(ts.isPropertyAccessExpression(node.parent) && node.parent.expression === node);
    const p = outermost ? wppPath(node) : null;
    if (p && p.length) {
      const isCallee = ts.isCallExpression(node.parent) && node.parent.expression === node;
      const args = isCallee ? node.parent.arguments : null;
      uses.push({
        path: p.join('.'),
        args: args ? args.length : null,
        spread: !!args && args.some(ts.isSpreadElement),
        line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
      });
    }
    ts.forEachChild(node, visit);
  })(sf);
  return uses;
}
