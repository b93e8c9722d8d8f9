//! The layers of src/ (see lib.rs): builds the graph of top-level modules
//! from `crate::` paths and fails on a cycle, or on a layer that reaches up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lower rank = lower layer. A module may use only modules of lower rank.
const LAYERS: &[(&str, u32)] = &[
    ("domain", 0),
    ("qr", 0),
    ("telemetry", 0),
    ("outbound", 0),
    ("store", 1),
    ("webhook", 2),
    ("pipeline", 3),
    ("sandbox", 1),
    ("config", 3),
    ("session", 4),
    ("core", 5),
    ("api", 6),
    ("cluster", 7),
    ("daemon", 8),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a source text names through `crate::`.
fn used_modules(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in src.match_indices("crate::") {
        let rest = &src[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, ...}`: the first segment of each item.
            let body = &group[..group.find('}').unwrap_or(group.len())];
            for item in body.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let uses = g.entry(top.clone()).or_default();
        for m in used_modules(&text) {
            if m != top {
                uses.insert(m);
            }
        }
    }
    g
}

fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_parser_sees_paths_and_groups() {
    let uses = used_modules("use crate::{api, core::Core};\nlet x = crate::domain::now_ms();");
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        ["api", "core", "domain"]
    );
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "a"]);
}

#[test]
fn src_modules_have_no_import_cycle() {
    let g = graph();
    assert!(g.contains_key("domain") && g.contains_key("api"), "{g:?}");
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle among src/ modules: {}", c.join(" -> "));
    }
}

#[test]
fn layers_only_reach_down() {
    let rank: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut bad = Vec::new();
    for (m, uses) in graph() {
        let r = *rank
            .get(m.as_str())
            .unwrap_or_else(|| panic!("src/{m} has no layer in tests/architecture.rs"));
        for u in uses {
            match rank.get(u.as_str()) {
                Some(&ru) if ru < r => {}
                _ => bad.push(format!("{m} uses {u}")),
            }
        }
    }
    assert!(bad.is_empty(), "layers reaching up or sideways: {bad:?}");
}

/// Every public core call that names a session checks the caller's key
/// (`self.may(...)`) before anything else, so a dialect cannot forget it.
/// The few that need not are listed with the reason.
#[test]
fn every_core_call_on_a_session_checks_access() {
    // Calls that check through another call, or name no session to check.
    const EXEMPT: &[(&str, &str)] = &[
        ("live", "filters the stream to the sessions the key sees"),
        ("create_key", "admin only: checked by check_admin"),
        ("new", "Core::new: the constructor"),
        (
            "admit",
            "pacing::Lanes, not Core: called by send after its check",
        ),
    ];
    let mut files = Vec::new();
    rust_files(Path::new("src/core"), &mut files);
    let mut missing = Vec::new();
    let mut checked = 0;
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        for (i, _) in src
            .match_indices("    pub async fn ")
            .chain(src.match_indices("    pub fn "))
        {
            let rest = &src[i..];
            let Some(open) = rest.find("{\n") else {
                continue;
            };
            let sig = &rest[..open];
            let names_session = sig.contains("SessionId") && !sig.contains("-> Result<SessionId");
            if !names_session || sig.contains("fn text(") {
                continue;
            }
            let name = sig
                .trim_start()
                .trim_start_matches("pub async fn ")
                .trim_start_matches("pub fn ")
                .split(['(', '<'])
                .next()
                .unwrap()
                .to_string();
            // The body's first statement.
            let first = rest[open + 2..].lines().next().unwrap_or("").trim();
            checked += 1;
            if !first.starts_with("self.may(") && !EXEMPT.iter().any(|(n, _)| *n == name) {
                missing.push(format!("{}: {name}", f.display()));
            }
        }
    }
    assert!(
        checked > 30,
        "the scan found only {checked} calls: is it still reading src/core?"
    );
    assert!(
        missing.is_empty(),
        "core calls on a session that do not begin with self.may(..): {missing:#?}"
    );
}
