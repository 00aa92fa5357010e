//! Every citation of the domain reference resolves inside the repository.
//!
//! The code cites `docs/pboc-notes.md` as `pboc-notes §N.M` (or `pboc-notes §N` for a chapter).
//! This test walks the whole repository (every `*.rs`, `*.md` and `*.toml` file, skipping
//! directories named `target`, `.git` and `corpus`), extracts each citation and checks that
//! `docs/pboc-notes.md` has a heading with exactly that number: `§4` needs `## 4. …`, `§4.3`
//! needs `### 4.3 …`. A citation may wrap onto the next comment line, and the file name may be
//! spelled out (`` `docs/pboc-notes.md` §0 ``). It also checks that `docs/README.md` indexes every
//! file in `docs/`. Pure std, no dependencies.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (the workspace containing this crate).
fn repo_root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).to_path_buf()
}

/// Directories never walked: build output (including `fuzz/target`), git data, fuzz corpora.
const SKIPPED_DIRS: [&str; 3] = ["target", ".git", "corpus"];

/// File extensions that may carry citations.
const EXTENSIONS: [&str; 3] = ["rs", "md", "toml"];

/// Every file under `dir` with one of [`EXTENSIONS`], skipping [`SKIPPED_DIRS`] (symlinks are not
/// followed). Sorted, so failure messages are stable.
fn source_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => panic!("cannot read directory {}: {e}", d.display()),
        };
        for entry in entries {
            let entry = entry.expect("directory entry");
            let path = entry.path();
            let kind = entry.file_type().expect("file type");
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_ref()) {
                    stack.push(path);
                }
            } else if kind.is_file()
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Section numbers of the headings of `pboc-notes.md`: for a line `## 4. Title` or
/// `### 4.3 Title`, the number `4` or `4.3` (the first word after the `#`s, trailing dots
/// removed).
fn heading_numbers(notes: &str) -> BTreeSet<String> {
    notes
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start_matches('#');
            if rest.len() == line.len() || !rest.starts_with(' ') {
                return None;
            }
            let word = rest.split_whitespace().next()?;
            let number = word.trim_end_matches('.');
            (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                .then(|| number.to_string())
        })
        .collect()
}

/// One citation found in a file.
#[derive(Debug)]
struct Citation {
    /// 1-based line of the `§`.
    line: usize,
    /// Section number as cited, trailing dots removed (`4.3`).
    section: String,
}

/// Extracts every `pboc-notes §X` citation from `text` (X = digits and dots, trailing dot
/// removed). Also accepted between `pboc-notes` and `§`: a `.md` suffix, a closing backtick,
/// and whitespace spanning at most one line break followed by a comment leader
/// (`//`, `//!`, `///`, `*`, `>`). A `§` not followed by a digit (e.g. `§N.M` in prose) is
/// not a citation.
fn citations(text: &str) -> Vec<Citation> {
    const NEEDLE: &str = "pboc-notes";
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(NEEDLE) {
        let start = from + found;
        from = start + NEEDLE.len();
        let mut rest = &text[from..];
        rest = rest.strip_prefix(".md").unwrap_or(rest);
        rest = rest.strip_prefix('`').unwrap_or(rest);
        let trimmed = rest.trim_start_matches([' ', '\t']);
        rest = match trimmed.strip_prefix('\n') {
            Some(next_line) => next_line.trim_start_matches([' ', '\t', '/', '!', '*', '>']),
            None => trimmed,
        };
        let Some(after) = rest.strip_prefix('§') else {
            continue;
        };
        let number: String = after
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let section = number.trim_end_matches('.');
        if !section.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let offset = text.len() - rest.len();
        out.push(Citation {
            line: text[..offset].matches('\n').count() + 1,
            section: section.to_string(),
        });
    }
    out
}

#[test]
fn extraction_rules() {
    let text = "a pboc-notes §4.3, b (pboc-notes §1.1.) c `docs/pboc-notes.md` §0\n\
                /// see pboc-notes\n/// §2.11, x\npboc-notes §N.M pboc-notes §4\n";
    let found = citations(text);
    let found: Vec<(usize, &str)> = found.iter().map(|c| (c.line, c.section.as_str())).collect();
    assert_eq!(
        found,
        [(1, "4.3"), (1, "1.1"), (1, "0"), (3, "2.11"), (4, "4")]
    );
    let headings = heading_numbers("# Title\n## 4. Chapter\n### 4.3 Section\n#### no number\n");
    assert_eq!(
        headings.into_iter().collect::<Vec<_>>(),
        ["4".to_string(), "4.3".to_string()]
    );
}

#[test]
fn every_pboc_notes_citation_resolves_to_a_heading() {
    let root = repo_root();
    let notes_path = root.join("docs/pboc-notes.md");
    let notes = fs::read_to_string(&notes_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", notes_path.display()));
    let headings = heading_numbers(&notes);
    assert!(
        headings.len() > 1,
        "no numbered headings in {}",
        notes_path.display()
    );

    let mut checked = 0usize;
    let mut unresolved = Vec::new();
    for file in source_files(&root) {
        let bytes = fs::read(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let text = String::from_utf8_lossy(&bytes);
        for citation in citations(&text) {
            checked += 1;
            if !headings.contains(&citation.section) {
                let shown = file.strip_prefix(&root).unwrap_or(&file);
                unresolved.push(format!(
                    "{}:{}: pboc-notes §{}",
                    shown.display(),
                    citation.line,
                    citation.section
                ));
            }
        }
    }
    assert!(
        checked > 0,
        "no `pboc-notes §…` citation found under {}",
        root.display()
    );
    assert!(
        unresolved.is_empty(),
        "{} of {checked} citations have no heading in docs/pboc-notes.md \
         (headings: {headings:?}):\n{}",
        unresolved.len(),
        unresolved.join("\n")
    );
}

#[test]
fn docs_index_lists_every_document() {
    let docs = repo_root().join("docs");
    let index = fs::read_to_string(docs.join("README.md")).expect("docs/README.md");
    let mut missing = Vec::new();
    let mut stack = vec![docs.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read docs/") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(&docs)
                .expect("under docs/")
                .to_string_lossy()
                .replace('\\', "/");
            if relative != "README.md" && !index.contains(&relative) {
                missing.push(relative);
            }
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "docs/README.md does not mention: {}",
        missing.join(", ")
    );
}
