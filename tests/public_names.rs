//! One name per public type (issue 10 item 7): no `pub struct`, `pub enum`, `pub trait` or
//! `pub type` name is declared twice across the product crates (`quickpass-kernel`,
//! `quickpass-crypto`, `quickpass`) and the simulator (`quickpass-sim`), so a reader (and a
//! `use` list) never has to ask which `Outcome` or which `HashAlgorithm` is meant.
//!
//! A type used under another crate's name is re-exported (`pub use`), not redeclared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The source trees walked: the product crates and the simulator.
const TREES: [&str; 4] = ["kernel/src", "crypto/src", "src", "sim/src"];

/// `(name, "path:line")` of each `pub struct|enum|trait|type` declared in `text`.
fn declarations(text: &str, file: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("pub ") else {
            continue;
        };
        let Some(rest) = ["struct ", "enum ", "trait ", "type "]
            .iter()
            .find_map(|keyword| rest.strip_prefix(keyword))
        else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push((name, format!("{file}:{}", index + 1)));
        }
    }
    found
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// Every public type name of the walked trees, with where it is declared.
fn public_types() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for tree in TREES {
        let mut files = Vec::new();
        rust_files(&root.join(tree), &mut files);
        assert!(!files.is_empty(), "no Rust files under {tree}");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source file");
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            for (name, place) in declarations(&text, &shown) {
                names.entry(name).or_default().push(place);
            }
        }
    }
    names
}

#[test]
fn no_public_type_name_is_declared_twice() {
    let twice: Vec<String> = public_types()
        .into_iter()
        .filter(|(_, places)| places.len() > 1)
        .map(|(name, places)| format!("{name}: {}", places.join(", ")))
        .collect();
    assert!(
        twice.is_empty(),
        "public type names declared more than once (rename one, or re-export it):\n{}",
        twice.join("\n")
    );
}

#[test]
fn the_walk_sees_every_crate() {
    let names = public_types();
    // One known type of each tree, so an empty or misdirected walk cannot pass.
    for (name, tree) in [
        ("Outcome", "kernel/src"),
        ("PurseOutcome", "kernel/src"),
        ("HashAlgorithm", "crypto/src"),
        ("FileJournal", "src"),
        ("SimPurseApplication", "sim/src"),
    ] {
        let places = names
            .get(name)
            .unwrap_or_else(|| panic!("{name} not found"));
        assert!(
            places.iter().all(|p| p.starts_with(tree)),
            "{name}: {places:?}"
        );
    }
    assert!(names.len() > 200, "only {} public types found", names.len());
}

#[test]
fn the_scanner_reports_a_duplicate() {
    let text = "/// doc\npub struct A;\n    pub enum B { X }\npub(crate) struct C;\n";
    let found = declarations(text, "f.rs");
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(found[1].1, "f.rs:3");
}
