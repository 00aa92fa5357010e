//! `quickpass deny-list`: the back office's side of the deny list — hash a file of PANs into a
//! full list or a delta (`quickpass-deny-list/1`, `docs/deny-list.md`), and check a file.
//!
//! The PAN files are one card a line: the PAN's digits, then optionally whitespace and the PAN
//! sequence number (`5F34`) as two hex digits (`01`); no PSN means the card has none (a value of
//! its own, not `00`). Blank lines and lines starting with `#` are skipped. `-` reads standard
//! input, so PANs can be piped from the card database without touching the disk. Errors name
//! the file and line, never the line's content.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use quickpass::deny_list::{self as file, DenyFileError};
use quickpass::kernel::deny_list::{CardHasher, CardKey, Change, DenyDelta, DenyList, Salt};
use quickpass::kernel::values::Pan;

/// The `deny-list` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hashes a file of PANs into a full deny list.
    Build {
        #[command(flatten)]
        salt: SaltArg,
        /// The version of the list written (a delta names it as its base).
        #[arg(long = "list-version", value_name = "N")]
        list_version: u64,
        /// The cards: one a line, `PAN [PSN]` (`-` = standard input).
        #[arg(long, value_name = "FILE")]
        pans: PathBuf,
        /// Where to write the list (written to PATH.tmp, then renamed).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Hashes files of PANs to add and to remove into a delta from one list version to the next.
    Delta {
        #[command(flatten)]
        salt: SaltArg,
        /// The version of the list the delta applies to.
        #[arg(long = "base-version", value_name = "N")]
        base_version: u64,
        /// The version of the list after the delta (later than the base).
        #[arg(long = "list-version", value_name = "N")]
        list_version: u64,
        /// Cards that go on the list: one a line, `PAN [PSN]` (`-` = standard input).
        #[arg(long, value_name = "FILE")]
        add: Option<PathBuf>,
        /// Cards that come off the list, same form.
        #[arg(long, value_name = "FILE")]
        remove: Option<PathBuf>,
        /// Where to write the delta (written to PATH.tmp, then renamed).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Checks a list or delta file (form, order, count, checksum) and prints its header; with
    /// `--delta`, applies deltas to the list in turn and prints the result.
    Inspect {
        /// A list or delta file.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// A delta to apply to the list at PATH (repeatable, applied in order).
        #[arg(long, value_name = "PATH")]
        delta: Vec<PathBuf>,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The salt, the same for a list and all its deltas.
#[derive(Debug, Args)]
pub struct SaltArg {
    /// The list's salt (the HMAC key of the card keys): 32 to 128 hex digits (16 to 64 bytes),
    /// random, kept for every version and delta of the list.
    #[arg(long, value_name = "HEX", value_parser = salt)]
    salt: Salt,
}

fn salt(text: &str) -> Result<Salt, String> {
    let bytes = hex::decode(text).map_err(|e| format!("not hex: {e}"))?;
    Salt::new(&bytes).map_err(|e| e.to_string())
}

/// Runs a `deny-list` subcommand.
pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Build {
            salt,
            list_version,
            pans,
            out,
        } => build(salt.salt, list_version, &pans, &out),
        Command::Delta {
            salt,
            base_version,
            list_version,
            add,
            remove,
            out,
        } => delta(
            salt.salt,
            base_version,
            list_version,
            add.as_deref(),
            remove.as_deref(),
            &out,
        ),
        Command::Inspect { path, delta, json } => inspect(&path, &delta, json),
    }
}

/// One card of a PAN file: its key and the line it is on.
type Cards = BTreeMap<CardKey, usize>;

/// Reads a PAN file (`-` = standard input) into card keys, each with its first line; the
/// number of lines that repeated an earlier card comes back too.
fn read_pans(path: &Path, hasher: &CardHasher) -> Result<(Cards, usize), String> {
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| format!("{}: {e}", path.display()))?;
    let mut cards = Cards::new();
    let mut repeats = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{number}", path.display());
        let mut words = line.split_whitespace();
        let pan = words
            .next()
            .and_then(|digits| Pan::from_digits(digits).ok())
            .ok_or_else(|| format!("{}: not a PAN (12 to 19 digits)", at()))?;
        let psn = match words.next() {
            None => None,
            Some(word) => Some(
                hex::decode(word)
                    .ok()
                    .and_then(|bytes| <[u8; 1]>::try_from(bytes).ok())
                    .map(|[byte]| byte)
                    .ok_or_else(|| {
                        format!("{}: the PAN sequence number is two hex digits", at())
                    })?,
            ),
        };
        if words.next().is_some() {
            return Err(format!("{}: more than a PAN and a PSN", at()));
        }
        if cards.insert(hasher.card_key(&pan, psn), number).is_some() {
            repeats += 1;
        }
    }
    Ok((cards, repeats))
}

fn merged(repeats: usize) -> String {
    match repeats {
        0 => String::new(),
        1 => " (1 repeated card merged)".into(),
        n => format!(" ({n} repeated cards merged)"),
    }
}

fn build(salt: Salt, version: u64, pans: &Path, out: &Path) -> Result<(), String> {
    let hasher = CardHasher::new(salt.clone());
    let (cards, repeats) = read_pans(pans, &hasher)?;
    let list = DenyList::from_keys(salt, version, cards.into_keys()).map_err(|e| e.to_string())?;
    file::save_list(&list, out).map_err(|e| quickpass::report::error_chain(&e))?;
    outln!(
        "wrote deny list version {version}: {} entries{} to {}",
        list.len(),
        merged(repeats),
        out.display()
    );
    Ok(())
}

fn delta(
    salt: Salt,
    base: u64,
    version: u64,
    add: Option<&Path>,
    remove: Option<&Path>,
    out: &Path,
) -> Result<(), String> {
    let hasher = CardHasher::new(salt.clone());
    let read = |path: Option<&Path>| match path {
        Some(path) => read_pans(path, &hasher),
        None => Ok((Cards::new(), 0)),
    };
    let (adds, add_repeats) = read(add)?;
    let (removes, remove_repeats) = read(remove)?;
    if let Some((key, add_line)) = adds.iter().find(|(key, _)| removes.contains_key(key)) {
        return Err(format!(
            "{}:{add_line} and {}:{}: the same card is added and removed",
            add.map_or_else(String::new, |p| p.display().to_string()),
            remove.map_or_else(String::new, |p| p.display().to_string()),
            removes.get(key).copied().unwrap_or_default()
        ));
    }
    let changes = adds
        .keys()
        .map(|key| Change::Add(*key))
        .chain(removes.keys().map(|key| Change::Remove(*key)))
        .collect();
    let delta = DenyDelta::new(salt, base, version, changes).map_err(|e| e.to_string())?;
    file::save_delta(&delta, out).map_err(|e| quickpass::report::error_chain(&e))?;
    outln!(
        "wrote deny-list delta {base} -> {version}: {} added, {} removed{} to {}",
        adds.len(),
        removes.len(),
        merged(add_repeats + remove_repeats),
        out.display()
    );
    Ok(())
}

fn inspect(path: &Path, deltas: &[PathBuf], json: bool) -> Result<(), String> {
    let chain = |e: DenyFileError| quickpass::report::error_chain(&e);
    let value = match file::load(path) {
        Ok(mut list) => {
            let loaded = (list.version(), list.len());
            for delta in deltas {
                file::apply_delta(&mut list, delta).map_err(chain)?;
            }
            serde_json::json!({
                "kind": "list",
                "version": loaded.0,
                "entries": loaded.1,
                "salt_bytes": list.salt().as_bytes().len(),
                "after_deltas": (!deltas.is_empty()).then(|| serde_json::json!({
                    "deltas": deltas.len(),
                    "version": list.version(),
                    "entries": list.len(),
                })),
            })
        }
        Err(DenyFileError::Invalid { source, .. })
            if matches!(source.problem, file::Problem::WrongKind { .. }) =>
        {
            if !deltas.is_empty() {
                return Err(format!(
                    "{}: --delta applies to a list, this is a delta",
                    path.display()
                ));
            }
            let delta = file::load_delta(path).map_err(chain)?;
            serde_json::json!({
                "kind": "delta",
                "base": delta.base(),
                "version": delta.version(),
                "adds": delta.adds(),
                "removes": delta.len() - delta.adds(),
                "salt_bytes": delta.salt().as_bytes().len(),
            })
        }
        Err(e) => return Err(chain(e)),
    };
    if json {
        outln!("{value}");
        return Ok(());
    }
    let n = |key: &str| value[key].as_u64().unwrap_or_default();
    match value["kind"].as_str() {
        Some("list") => {
            outln!(
                "{}: deny list version {}, {} entries, salt {} bytes: valid",
                path.display(),
                n("version"),
                n("entries"),
                n("salt_bytes")
            );
            let after = &value["after_deltas"];
            if !after.is_null() {
                outln!(
                    "after {} delta(s): version {}, {} entries",
                    after["deltas"],
                    after["version"],
                    after["entries"]
                );
            }
        }
        _ => outln!(
            "{}: deny-list delta {} -> {}, {} added, {} removed, salt {} bytes: valid",
            path.display(),
            n("base"),
            n("version"),
            n("adds"),
            n("removes"),
            n("salt_bytes")
        ),
    }
    Ok(())
}
