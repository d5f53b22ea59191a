//! Keeps the simulator's modules free of import circles: reads `src/**/*.rs`, builds the graph of
//! the paths one module names in another (`use crate::…`, `super::…`, `self::…`, inline
//! `crate::a::b` paths and a parent's `child::…` calls; `mod` declarations are not edges), and
//! fails on any cycle, naming it, and on any handler module (`api::<name>`, but `api::common`)
//! or any part of `api::common` that names a handler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module below `api` that every handler may use; every other child of `api` is a handler.
const HANDLER_COMMON: &str = "api::common";

/// One source file: its module path (`""` for the crate root) and its code without comments.
struct Module {
    path: String,
    code: String,
    /// Child modules it declares (`mod x;`).
    children: Vec<String>,
}

fn module_path(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("below src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments and without the contents of string literals.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            // A string literal (raw strings in this crate hold no `"` followed by code-like
            // text); a path in one (`#[serde(with = "crate::persist::b64")]`) counts.
            out.push('"');
            i += 1;
            let literal: String = chars[i..chars.len().min(i + 200)].iter().collect();
            if literal.starts_with("crate::")
                && let Some(end) = literal.find('"')
                && literal[..end].chars().all(|c| is_ident(c) || c == ':')
            {
                out.push(' ');
                out.push_str(&literal[..end]);
                out.push(' ');
                i += end;
            }
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && next.is_some() && chars.get(i + 2) == Some(&'\'') {
            // A char literal such as '{'.
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal such as '\n' or '\''.
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    // `Name as Other`: the path is `Name`'s.
    let mut unrenamed = tree.to_owned();
    while let Some(at) = unrenamed.find(" as ") {
        let end = unrenamed[at + 4..]
            .find(|c: char| !is_ident(c))
            .map_or(unrenamed.len(), |e| at + 4 + e);
        unrenamed.replace_range(at..end, "");
    }
    let tree: String = unrenamed.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len() - 1];
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(expand)
        .map(|item| format!("{prefix}{item}"))
        .collect()
}

/// Every path the code names: those of `use` trees, and `crate::…`/`super::…`/`self::…` paths
/// elsewhere.
fn named_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    // `use` trees first, then blank them out.
    let mut without_uses = String::new();
    while let Some(at) = find_use(rest) {
        without_uses.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        let tree = rest[at + 4..end].trim();
        paths.extend(expand(tree));
        rest = &rest[end..];
    }
    without_uses.push_str(rest);
    let chars: Vec<char> = without_uses.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if (i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':') && is_ident(chars[i]) {
            let start = i;
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == ':') {
                i += 1;
            }
            let path: String = chars[start..i].iter().collect();
            if path.contains("::") {
                paths.push(path.trim_end_matches(':').to_owned());
            }
        } else {
            i += 1;
        }
    }
    paths
}

/// Where the next `use` statement starts (after `pub`, `pub(crate)` and the like).
fn find_use(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let at = from + at;
        let before = code[..at].chars().next_back();
        if before.is_none_or(|c| c.is_whitespace() || c == ')' || c == '{' || c == ';') {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

/// The module a path leads to from `module`, if it leads to one of `modules`; a name the crate
/// root re-exports (`crate::Stats`) leads to the module it comes from.
fn resolve(
    module: &str,
    path: &str,
    modules: &BTreeMap<String, Module>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    let (mut current, rest): (Vec<String>, &[&str]) = match segments.first().copied() {
        Some("crate") => (Vec::new(), &segments[1..]),
        Some("super" | "self") => {
            let mut base: Vec<String> = if module.is_empty() {
                Vec::new()
            } else {
                module.split("::").map(str::to_owned).collect()
            };
            let mut taken = 0;
            for segment in &segments {
                match *segment {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                taken += 1;
            }
            (base, &segments[taken..])
        }
        Some(first) => {
            // A parent naming its own child module (`auth::challenge` in `api`).
            let children = &modules.get(module)?.children;
            if !children.iter().any(|c| c == first) {
                return None;
            }
            let mut base: Vec<String> = if module.is_empty() {
                Vec::new()
            } else {
                module.split("::").map(str::to_owned).collect()
            };
            base.push(first.to_owned());
            (base, &segments[1..])
        }
        None => return None,
    };
    if current.is_empty()
        && let Some(first) = rest.first()
        && !modules.contains_key(*first)
    {
        return reexports.get(*first).cloned();
    }
    for segment in rest {
        let mut next = current.clone();
        next.push((*segment).to_owned());
        if modules.contains_key(&next.join("::")) {
            current = next;
        } else {
            break;
        }
    }
    Some(current.join("::"))
}

/// Names re-exported at the crate root (`pub use server::{Simulator, Stats};`), by the module
/// they come from.
fn root_reexports(root: &Module, modules: &BTreeMap<String, Module>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = root.code.as_str();
    while let Some(at) = find_use(rest) {
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e);
        for path in expand(rest[at + 4..end].trim()) {
            let segments: Vec<&str> = path.split("::").collect();
            let name = segments.last().copied().unwrap_or_default();
            if let Some(from) = resolve(
                "",
                &segments[..segments.len() - 1].join("::"),
                modules,
                &BTreeMap::new(),
            )
            .filter(|m| !m.is_empty())
            .or_else(|| {
                modules
                    .contains_key(segments[0])
                    .then(|| segments[0].to_owned())
            }) {
                out.insert(name.to_owned(), from);
            }
        }
        rest = &rest[end..];
    }
    out
}

fn load() -> BTreeMap<String, Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no source files under {}", src.display());
    let mut modules = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let code = strip(&text);
        let children = code
            .lines()
            .filter_map(|line| {
                let line = line.trim();
                let line = line
                    .strip_prefix("pub(crate) ")
                    .or_else(|| line.strip_prefix("pub "))
                    .unwrap_or(line);
                line.strip_prefix("mod ")
                    .and_then(|m| m.strip_suffix(';'))
                    .map(str::to_owned)
            })
            .collect();
        let path = module_path(&src, &file);
        modules.insert(
            path.clone(),
            Module {
                path,
                code,
                children,
            },
        );
    }
    modules
}

/// Module → the modules it names (self-references and ancestors' own children left out).
fn graph(modules: &BTreeMap<String, Module>) -> BTreeMap<String, BTreeSet<String>> {
    let root = modules.get("").expect("src/lib.rs");
    let reexports = root_reexports(root, modules);
    let mut graph = BTreeMap::new();
    for module in modules.values() {
        // A `mod tests { use super::… }` inside the file names the file's own module.
        let (main, tests) = match module.code.find("mod tests {") {
            Some(at) => module.code.split_at(at),
            None => (module.code.as_str(), ""),
        };
        let mut edges = BTreeSet::new();
        for (code, from) in [
            (main, module.path.clone()),
            (tests, test_module(&module.path)),
        ] {
            for path in named_paths(code) {
                if let Some(target) = resolve(&from, &path, modules, &reexports)
                    && target != module.path
                    && !target.is_empty()
                    && modules.contains_key(&target)
                {
                    edges.insert(target);
                }
            }
        }
        if !module.path.is_empty() {
            graph.insert(module.path.clone(), edges);
        }
    }
    graph
}

/// The path of a file's inline `tests` module (unknown to the graph, so `super::` resolves).
fn test_module(path: &str) -> String {
    if path.is_empty() {
        "tests".to_owned()
    } else {
        format!("{path}::tests")
    }
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let n = walk.index.len();
        walk.index.insert(node, n);
        walk.low.insert(node, n);
        walk.stack.push(node);
        walk.on_stack.insert(node);
        let graph = walk.graph;
        for next in graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !walk.index.contains_key(next) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next]);
                walk.low.insert(node, low);
            } else if walk.on_stack.contains(next) {
                let low = walk.low[node].min(walk.index[next]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                walk.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

/// One concrete circle through `component`, as `a -> b -> … -> a` (a shortest one from its
/// first module).
fn one_cycle(graph: &BTreeMap<String, BTreeSet<String>>, component: &[String]) -> String {
    let start = &component[0];
    let inside: BTreeSet<&String> = component.iter().collect();
    let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in &graph[node] {
            if !inside.contains(next) {
                continue;
            }
            if next == start {
                let mut path = vec![node.clone()];
                let mut at = node;
                while let Some(p) = previous.get(at) {
                    path.push((*p).clone());
                    at = p;
                }
                path.reverse();
                path.push(start.clone());
                return path.join(" -> ");
            }
            if !previous.contains_key(next) && next != start {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    component.join(", ")
}

#[test]
fn no_module_imports_itself_through_others() {
    let modules = load();
    let graph = graph(&modules);
    let found = cycles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|component| {
            format!(
                "{} modules in a circle: {}\n  e.g. {}",
                component.len(),
                component.join(", "),
                one_cycle(&graph, component)
            )
        })
        .collect();
    println!(
        "{} modules, {} import edges; import cycles (strongly connected components): {}",
        graph.len(),
        graph.values().map(BTreeSet::len).sum::<usize>(),
        found.len()
    );
    assert!(
        found.is_empty(),
        "{} import cycle(s) among ksef-sim's modules:\n{}",
        found.len(),
        report.join("\n")
    );
}

#[test]
fn no_handler_imports_another_handler() {
    let modules = load();
    let graph = graph(&modules);
    let is_handler = |m: &str| {
        m.strip_prefix("api::")
            .is_some_and(|rest| !rest.contains("::"))
            && m != HANDLER_COMMON
    };
    assert!(
        graph.keys().filter(|m| is_handler(m)).count() >= 5,
        "the handler modules were not found below src/api"
    );
    let offending: Vec<String> = graph
        .iter()
        .filter(|(module, _)| is_handler(module) || module.starts_with(HANDLER_COMMON))
        .flat_map(|(module, edges)| {
            edges
                .iter()
                .filter(|target| is_handler(target))
                .map(move |target| format!("{module} -> {target}"))
        })
        .collect();
    println!("handler -> handler imports: {}", offending.len());
    assert!(
        offending.is_empty(),
        "handlers (or {HANDLER_COMMON}) import handlers (share through {HANDLER_COMMON}):\n{}",
        offending.join("\n")
    );
}

/// The reader finds what it must: a circle written on purpose is reported, and the edges of a
/// known import are seen.
#[test]
fn the_reader_sees_imports_and_circles() {
    let paths = named_paths(&strip(
        "use crate::{a::{B, c}, d};\n// use crate::commented;\nfn f() { super::x::y(); let s = \"not crate::a path\"; }",
    ));
    assert_eq!(
        paths,
        ["crate::a::B", "crate::a::c", "crate::d", "super::x::y"]
    );
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    let found = cycles(&graph);
    assert_eq!(found, vec![vec!["a", "b", "c"]]);
    assert_eq!(one_cycle(&graph, &found[0]), "a -> b -> c -> a");
}
