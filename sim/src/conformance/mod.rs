//! Conformance runner for `quickpass-vectors/1` files.
//!
//! Runs every case of every vector file through the library's public API and reports one line
//! per case. The file format (`vectors/FORMAT.md`) is
//! the contract: a file this runner has never seen runs unchanged, and a kind, method or field it
//! does not support fails the case instead of skipping it.
//!
//! ```no_run
//! let report = quickpass_sim::conformance::run_paths(&["vectors".into()]);
//! for line in report.lines() {
//!     println!("{line}");
//! }
//! assert_eq!(report.failed(), 0);
//! ```

mod case;
mod kinds;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use case::{Case, Check, Failure};

/// The `schema` value that marks a vector file.
pub const SCHEMA: &str = "quickpass-vectors/1";

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// File name without its directory.
    pub file: String,
    /// Case id (`*` when the whole file could not be read).
    pub id: String,
    /// `None` when the case passed, else why it failed.
    pub failure: Option<Failure>,
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(f, "PASS {}#{}", self.file, self.id),
            Some(reason) => write!(f, "FAIL {}#{}: {}", self.file, self.id, reason),
        }
    }
}

/// Every case result of a run, in file order then case order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The results.
    pub results: Vec<CaseResult>,
    /// Symbolic links met in a directory walk and not followed (a link can loop back into
    /// the tree or count a directory twice); a link named on the command line is followed.
    pub skipped_links: Vec<PathBuf>,
}

impl Report {
    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.failure.is_none()).count()
    }

    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// The report lines: one per case, then `N passed, M failed`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.results.iter().map(ToString::to_string).collect();
        lines.extend(
            self.skipped_links
                .iter()
                .map(|link| format!("SKIP {}: symbolic link, not followed", link.display())),
        );
        lines.push(format!(
            "{} passed, {} failed",
            self.passed(),
            self.failed()
        ));
        lines
    }
}

/// Runs every vector file found under `paths` (files, or directories searched recursively).
pub fn run_paths(paths: &[PathBuf]) -> Report {
    let mut report = Report::default();
    let (files, skipped_links) = vector_candidates(paths);
    for file in files {
        run_file(&file, &mut report);
    }
    report.skipped_links = skipped_links;
    report
}

/// Every `*.json` file under `paths`, directories walked recursively in name order, and the
/// symbolic links met in the walk (not followed: a path given in `paths` is followed, one
/// found inside a directory is not, so a link cannot loop the walk or count a tree twice).
fn vector_candidates(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut links = Vec::new();
    for path in paths {
        collect_json(path, &mut files, &mut links, true);
    }
    (files, links)
}

fn collect_json(path: &Path, files: &mut Vec<PathBuf>, links: &mut Vec<PathBuf>, explicit: bool) {
    if !explicit
        && path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
    {
        links.push(path.to_path_buf());
        return;
    }
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            files.push(path.to_path_buf());
            return;
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            collect_json(&child, files, links, false);
        }
    } else if explicit || path.extension().is_some_and(|e| e == "json") {
        files.push(path.to_path_buf());
    }
}

/// Runs one file. A `.json` file whose `schema` is another value is not a vector file and is
/// left out; one that cannot be read or parsed counts as one failed case `file#*`.
fn run_file(path: &Path, report: &mut Report) {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let whole_file_failure = |reason: String| CaseResult {
        file: file.clone(),
        id: "*".to_owned(),
        failure: Some(reason),
    };
    let document: Value = match std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}")))
    {
        Ok(document) => document,
        Err(reason) => {
            report.results.push(whole_file_failure(reason));
            return;
        }
    };
    match document.get("schema") {
        Some(Value::String(schema)) if schema == SCHEMA => {}
        _ => return,
    }
    let (kind, cases) = match top_level(&document) {
        Ok(parts) => parts,
        Err(reason) => {
            report.results.push(whole_file_failure(reason));
            return;
        }
    };
    for (index, case) in cases.iter().enumerate() {
        let id = case
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("<case {index}>"));
        let failure = run_case(kind, case).err();
        report.results.push(CaseResult {
            file: file.clone(),
            id,
            failure,
        });
    }
}

/// Checks the top level of a vector file (README §1.1) and returns its kind and cases.
fn top_level(document: &Value) -> Check<(&str, &Vec<Value>)> {
    let kind = document
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("no kind")?;
    let sources_ok = document
        .get("source")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !sources_ok {
        return Err("no non-empty source array".to_owned());
    }
    let cases = document
        .get("cases")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("no non-empty cases array")?;
    Ok((kind, cases))
}

/// Runs one case of `kind`, then makes sure every field it carries was used.
fn run_case(kind: &str, value: &Value) -> Check {
    if value.get("id").and_then(Value::as_str).is_none() {
        return Err("case has no id".to_owned());
    }
    let case = Case::new(value)?;
    kinds::run(kind, &case)?;
    case.check_all_fields_used()
}
