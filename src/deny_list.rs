//! Deny-list files: a full list and its deltas, format `quickpass-deny-list/1` (documented in
//! `docs/deny-list.md`), read and written here; the list itself, its card keys and the delta
//! rules are the kernel's [`quickpass_kernel::deny_list`].
//!
//! A file is one JSON header line, then one line per entry, every line ending in `\n`:
//!
//! ```text
//! {"format":"quickpass-deny-list/1","kind":"list","version":7,"salt":"<hex>","entries":2,"sha256":"<hex>"}
//! 0F1E2D3C4B5A69788796A5B4C3D2E1F0
//! 8A9B…                               (32 upper-case hex digits: a card key; ascending, no repeat)
//! ```
//!
//! A delta's header has `"kind":"delta"` and `"base"` (the version it applies to) before
//! `"version"`; its lines are `+` (add) or `-` (remove) then the key, in ascending key order.
//! `sha256` is the SHA-256 of the header line with the `sha256` value empty (`"sha256":""`), its
//! `\n`, and the body: it covers the salt, versions and count as well as the entries, so a file
//! whose salt was damaged (a list that would silently deny no one) is refused like one whose
//! entries were. The header must be in the exact form this module writes (field order, no
//! spaces), so a list has one byte representation.
//!
//! Why this format: 10⁶ entries are 33 MB of text, read line by line in about a tenth of a
//! second (the README's figures), with no JSON parse per entry; the file is streamed, so a load
//! holds the entries (16 MB for 10⁶) and a 64 KiB buffer, never the file; a JSON header keeps
//! the metadata readable and extensible by version; keys in hex keep the file greppable and
//! diffable; and the order rule makes duplicates and a file's canonical form checkable in one
//! pass.
//!
//! Every refusal is a [`ParseError`] naming the line (1 is the header) and the [`Problem`]; a
//! truncated file is [`Problem::Truncated`], an edited one [`Problem::Checksum`] (or a
//! sharper problem on the line edited). No input panics (fuzz target `deny_list`). The checksum
//! catches damage, not a forger who can write the file and recompute it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use quickpass_crypto::hash::Sha256Hasher;
use quickpass_kernel::deny_list::{
    CardKey, Change, DeltaApplied, DeltaError, DenyDelta, DenyList, Salt,
};

/// The format name and version in every header (also the card keys' domain prefix,
/// [`quickpass_kernel::deny_list::KEY_DOMAIN`]).
pub const FORMAT: &str = quickpass_kernel::deny_list::KEY_DOMAIN;

/// Longest header line accepted (a 64-byte salt and the largest numbers take about 330).
const MAX_HEADER_LINE: usize = 1024;

/// Longest body line looked at (a delta line is 34 bytes with its `\n`).
const MAX_BODY_LINE: usize = 64;

/// The kind of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A full list (`"kind":"list"`).
    List,
    /// A delta (`"kind":"delta"`).
    Delta,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            FileKind::List => "list",
            FileKind::Delta => "delta",
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a deny-list file, at the line of its [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file is empty.
    #[error("empty file: no header")]
    NoHeader,
    /// The header is not one JSON object with exactly the format's fields (the JSON parser's
    /// reason; the header holds no card data).
    #[error("not a deny-list header: {0}")]
    Header(String),
    /// The header names another format, or another version of this one.
    #[error("not format {FORMAT}")]
    UnknownFormat,
    /// A delta where a list is expected, or the other way round.
    #[error("a {found} where a {expected} is expected")]
    WrongKind {
        /// What the caller asked for.
        expected: FileKind,
        /// What the file is.
        found: FileKind,
    },
    /// The salt is not 32 to 128 upper-case hex digits (16 to 64 bytes).
    #[error("the salt is not 32 to 128 upper-case hex digits")]
    BadSalt,
    /// A list with a `base`, a delta without one, or a delta whose version is not after its
    /// base.
    #[error("a list has no base; a delta has one, and a later version")]
    BadVersion,
    /// The header's `sha256` is not 64 upper-case hex digits.
    #[error("sha256 is not 64 upper-case hex digits")]
    BadChecksumField,
    /// The header parses but is not written the one way this format writes it (field order,
    /// spaces, escapes).
    #[error("header not in canonical form")]
    NotCanonical,
    /// A line longer than any header or entry line.
    #[error("line too long")]
    LineTooLong,
    /// An entry line is not 32 upper-case hex digits (in a delta: `+` or `-`, then 32).
    #[error("not an entry: expected {expected}")]
    BadEntry {
        /// What the line should hold.
        expected: &'static str,
    },
    /// The entry repeats the one on the line before.
    #[error("repeats the entry on line {previous}")]
    Duplicate {
        /// The line it repeats.
        previous: usize,
    },
    /// The entry sorts before the one on the line before (entries are in ascending order).
    #[error("out of order: sorts before line {previous}")]
    OutOfOrder {
        /// The line before.
        previous: usize,
    },
    /// More entry lines than the header declares.
    #[error("more entries than the {declared} the header declares")]
    TooManyEntries {
        /// The header's `entries`.
        declared: u64,
    },
    /// The file ends before the entries the header declares, or inside a line.
    #[error("truncated: {found} of {declared} entries")]
    Truncated {
        /// The header's `entries`.
        declared: u64,
        /// Complete entry lines read.
        found: u64,
    },
    /// The SHA-256 over header and body is not the header's: the file was edited or damaged.
    #[error("checksum mismatch: the file was edited or damaged")]
    Checksum,
}

/// A deny-list file refused: the line (1 = the header) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ParseError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong.
    pub problem: Problem,
}

/// Why a deny-list file could not be read, written or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DenyFileError {
    /// Reading or writing the file failed.
    #[error("deny-list file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid list or delta.
    #[error("deny-list file {path}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line and the problem.
        #[source]
        source: ParseError,
    },
    /// The delta is valid but does not apply to the list (see [`DenyList::apply`]); the list is
    /// unchanged.
    #[error("deny-list delta {path}, line {line}: refused")]
    Refused {
        /// The delta file.
        path: PathBuf,
        /// The line of the change refused, or 1 (the header) for a version or salt mismatch.
        line: usize,
        /// Why.
        #[source]
        source: DeltaError,
    },
}

/// Why the internal reader stopped: the input failed, or it is invalid.
enum ReadError {
    Io(io::Error),
    Parse(ParseError),
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

fn invalid<T>(line: usize, problem: Problem) -> Result<T, ReadError> {
    Err(ReadError::Parse(ParseError { line, problem }))
}

/// The header line, in the order its fields are written.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<u64>,
    version: u64,
    salt: String,
    entries: u64,
    sha256: String,
}

impl Header {
    fn line(&self) -> String {
        // Strings and integers only: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The header line as the checksum covers it: `sha256` empty.
    fn unsigned_line(&self) -> String {
        Header {
            sha256: String::new(),
            ..self.clone()
        }
        .line()
    }
}

/// One line read: its bytes (with the `\n`), or why there is none.
enum Line {
    /// A complete line, `\n` included.
    Complete,
    /// End of input before any byte.
    End,
    /// End of input inside a line.
    Partial,
    /// More than the limit without a `\n`.
    TooLong,
}

fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    buf.clear();
    let read = reader.take(limit as u64 + 1).read_until(b'\n', buf)?;
    Ok(match (read, buf.last()) {
        (0, _) => Line::End,
        (_, Some(b'\n')) => Line::Complete,
        (n, _) if n > limit => Line::TooLong,
        _ => Line::Partial,
    })
}

fn upper_hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes upper-case hex (the only case this format writes).
fn decode_upper_hex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some(upper_hex_value(pair[0])? << 4 | upper_hex_value(pair[1])?))
        .collect()
}

fn decode_key(text: &[u8]) -> Option<CardKey> {
    let text: &[u8; 32] = text.try_into().ok()?;
    let mut key = [0u8; CardKey::LEN];
    for (byte, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
        *byte = upper_hex_value(pair[0])? << 4 | upper_hex_value(pair[1])?;
    }
    Some(CardKey::from_bytes(key))
}

fn encode_key(key: &CardKey, out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (pair, byte) in out.chunks_exact_mut(2).zip(key.as_bytes()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0F)];
    }
}

/// The header, checked, and what it says.
struct Checked {
    header: Header,
    salt: Salt,
    kind: FileKind,
    sha256: [u8; 32],
}

fn read_header(reader: &mut impl BufRead, expected: FileKind) -> Result<Checked, ReadError> {
    let mut buf = Vec::new();
    match read_line(reader, &mut buf, MAX_HEADER_LINE)? {
        Line::Complete => {}
        Line::End => return invalid(1, Problem::NoHeader),
        Line::Partial => {
            return invalid(
                1,
                Problem::Truncated {
                    declared: 0,
                    found: 0,
                },
            )
        }
        Line::TooLong => return invalid(1, Problem::LineTooLong),
    }
    let text = &buf[..buf.len() - 1];
    let header: Header = serde_json::from_slice(text).or_else(|e| {
        let reason = match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ => "not JSON".to_owned(),
        };
        invalid(1, Problem::Header(reason))
    })?;
    if header.format != FORMAT {
        return invalid(1, Problem::UnknownFormat);
    }
    let kind = match header.kind.as_str() {
        "list" => FileKind::List,
        "delta" => FileKind::Delta,
        _ => return invalid(1, Problem::Header("unknown kind".to_owned())),
    };
    if kind != expected {
        return invalid(
            1,
            Problem::WrongKind {
                expected,
                found: kind,
            },
        );
    }
    let salt = decode_upper_hex(header.salt.as_bytes())
        .and_then(|bytes| Salt::new(&bytes).ok())
        .map_or_else(|| invalid(1, Problem::BadSalt), Ok)?;
    let versions_ok = match (kind, header.base) {
        (FileKind::List, None) => true,
        (FileKind::Delta, Some(base)) => header.version > base,
        _ => false,
    };
    if !versions_ok {
        return invalid(1, Problem::BadVersion);
    }
    let sha256: [u8; 32] = decode_upper_hex(header.sha256.as_bytes())
        .and_then(|bytes| bytes.try_into().ok())
        .map_or_else(|| invalid(1, Problem::BadChecksumField), Ok)?;
    if header.line().as_bytes() != text {
        return invalid(1, Problem::NotCanonical);
    }
    Ok(Checked {
        header,
        salt,
        kind,
        sha256,
    })
}

/// Reads the body: each line's key (and, in a delta, its sign), checked for form, order and
/// count, and the checksum over header and body. `size_hint` (the input's length, when known)
/// bounds the memory reserved up front, whatever the header declares.
fn read_body(
    reader: &mut impl BufRead,
    checked: &Checked,
    size_hint: Option<u64>,
) -> Result<(Vec<CardKey>, Vec<bool>), ReadError> {
    let delta = checked.kind == FileKind::Delta;
    let line_len = if delta { 34 } else { 33 };
    let declared = checked.header.entries;
    let room = size_hint.map_or(1 << 16, |size| size / line_len);
    let capacity = usize::try_from(declared.min(room)).unwrap_or(0);
    let mut keys: Vec<CardKey> = Vec::with_capacity(capacity);
    let mut adds: Vec<bool> = Vec::with_capacity(if delta { capacity } else { 0 });
    let mut hasher = Sha256Hasher::new();
    hasher.update(checked.header.unsigned_line().as_bytes());
    hasher.update(b"\n");
    let mut buf = Vec::with_capacity(MAX_BODY_LINE + 1);
    let mut found: u64 = 0;
    let expected = if delta {
        "+ or -, then 32 upper-case hex digits"
    } else {
        "32 upper-case hex digits"
    };
    loop {
        let line = 2 + keys.len();
        match read_line(reader, &mut buf, MAX_BODY_LINE)? {
            Line::Complete => {}
            Line::End => break,
            Line::Partial => return invalid(line, Problem::Truncated { declared, found }),
            Line::TooLong => return invalid(line, Problem::LineTooLong),
        }
        if found == declared {
            return invalid(line, Problem::TooManyEntries { declared });
        }
        hasher.update(&buf);
        let text = &buf[..buf.len() - 1];
        let (add, hex) = match (delta, text.split_first()) {
            (false, _) => (true, text),
            (true, Some((b'+', rest))) => (true, rest),
            (true, Some((b'-', rest))) => (false, rest),
            (true, _) => return invalid(line, Problem::BadEntry { expected }),
        };
        let Some(key) = decode_key(hex) else {
            return invalid(line, Problem::BadEntry { expected });
        };
        if let Some(previous) = keys.last() {
            if key == *previous {
                return invalid(line, Problem::Duplicate { previous: line - 1 });
            }
            if key < *previous {
                return invalid(line, Problem::OutOfOrder { previous: line - 1 });
            }
        }
        keys.push(key);
        if delta {
            adds.push(add);
        }
        found += 1;
    }
    if found < declared {
        return invalid(2 + keys.len(), Problem::Truncated { declared, found });
    }
    if hasher.finish() != checked.sha256 {
        return invalid(1, Problem::Checksum);
    }
    Ok((keys, adds))
}

fn read_list(reader: &mut impl BufRead, size_hint: Option<u64>) -> Result<DenyList, ReadError> {
    let checked = read_header(reader, FileKind::List)?;
    let (keys, _) = read_body(reader, &checked, size_hint)?;
    // The body was checked ascending, so this only moves the keys in.
    DenyList::from_sorted(checked.salt, checked.header.version, keys).or_else(|_| {
        invalid(
            1,
            Problem::TooManyEntries {
                declared: checked.header.entries,
            },
        )
    })
}

fn read_delta(reader: &mut impl BufRead, size_hint: Option<u64>) -> Result<DenyDelta, ReadError> {
    let checked = read_header(reader, FileKind::Delta)?;
    let (keys, adds) = read_body(reader, &checked, size_hint)?;
    let changes = keys
        .into_iter()
        .zip(adds)
        .map(|(key, add)| {
            if add {
                Change::Add(key)
            } else {
                Change::Remove(key)
            }
        })
        .collect();
    let base = checked.header.base.unwrap_or_default();
    // Versions and order were checked: this cannot fail, but is mapped rather than unwrapped.
    DenyDelta::new(checked.salt, base, checked.header.version, changes)
        .or_else(|_| invalid(1, Problem::BadVersion))
}

fn parse_error(result: ReadError) -> ParseError {
    match result {
        ReadError::Parse(error) => error,
        // A slice never fails to read.
        ReadError::Io(error) => ParseError {
            line: 0,
            problem: Problem::Header(error.to_string()),
        },
    }
}

/// Parses a full list from the bytes of a file.
pub fn parse_list(bytes: &[u8]) -> Result<DenyList, ParseError> {
    let mut reader = bytes;
    read_list(&mut reader, Some(bytes.len() as u64)).map_err(parse_error)
}

/// Parses a delta from the bytes of a file.
pub fn parse_delta(bytes: &[u8]) -> Result<DenyDelta, ParseError> {
    let mut reader = bytes;
    read_delta(&mut reader, Some(bytes.len() as u64)).map_err(parse_error)
}

fn open(path: &Path) -> Result<(BufReader<File>, Option<u64>), DenyFileError> {
    let io = |source| DenyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    Ok((BufReader::with_capacity(1 << 16, file), Some(size)))
}

fn file_error(path: &Path, error: ReadError) -> DenyFileError {
    match error {
        ReadError::Io(source) => DenyFileError::Io {
            path: path.to_path_buf(),
            source,
        },
        ReadError::Parse(source) => DenyFileError::Invalid {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Loads a full list from `path` (streamed: the file is never held whole).
pub fn load(path: impl AsRef<Path>) -> Result<DenyList, DenyFileError> {
    let path = path.as_ref();
    let (mut reader, size) = open(path)?;
    read_list(&mut reader, size).map_err(|e| file_error(path, e))
}

/// Loads a delta from `path`.
pub fn load_delta(path: impl AsRef<Path>) -> Result<DenyDelta, DenyFileError> {
    let path = path.as_ref();
    let (mut reader, size) = open(path)?;
    read_delta(&mut reader, size).map_err(|e| file_error(path, e))
}

/// Loads the delta at `path` and applies it to `list`: all of it, or — on any error — nothing.
/// A delta that does not follow the list's version, or adds a listed card, or removes an
/// unlisted one, is [`DenyFileError::Refused`] with the line of the change (1 for a version or
/// salt mismatch).
pub fn apply_delta(
    list: &mut DenyList,
    path: impl AsRef<Path>,
) -> Result<DeltaApplied, DenyFileError> {
    let path = path.as_ref();
    let delta = load_delta(path)?;
    list.apply(&delta).map_err(|source| DenyFileError::Refused {
        path: path.to_path_buf(),
        line: match source {
            DeltaError::AlreadyPresent { position } | DeltaError::NotPresent { position } => {
                position + 2
            }
            _ => 1,
        },
        source,
    })
}

/// Writes a file: the header (checksum computed over a first pass of the body), then the body.
fn write_file(
    mut out: impl Write,
    mut header: Header,
    body: impl Fn(&mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()>,
) -> io::Result<()> {
    let mut hasher = Sha256Hasher::new();
    hasher.update(header.unsigned_line().as_bytes());
    hasher.update(b"\n");
    body(&mut |line| {
        hasher.update(line);
        Ok(())
    })?;
    header.sha256 = hex::encode_upper(hasher.finish());
    let mut out = io::BufWriter::with_capacity(1 << 16, &mut out);
    out.write_all(header.line().as_bytes())?;
    out.write_all(b"\n")?;
    body(&mut |line| out.write_all(line))?;
    out.flush()
}

/// Writes `list` in the list format.
pub fn write_list(list: &DenyList, out: impl Write) -> io::Result<()> {
    let header = Header {
        format: FORMAT.to_owned(),
        kind: FileKind::List.name().to_owned(),
        base: None,
        version: list.version(),
        salt: hex::encode_upper(list.salt().as_bytes()),
        entries: list.len() as u64,
        sha256: String::new(),
    };
    write_file(out, header, |emit| {
        let mut line = [b'\n'; 33];
        for key in list.iter() {
            encode_key(key, &mut line[..32]);
            emit(&line)?;
        }
        Ok(())
    })
}

/// Writes `delta` in the delta format.
pub fn write_delta(delta: &DenyDelta, out: impl Write) -> io::Result<()> {
    let header = Header {
        format: FORMAT.to_owned(),
        kind: FileKind::Delta.name().to_owned(),
        base: Some(delta.base()),
        version: delta.version(),
        salt: hex::encode_upper(delta.salt().as_bytes()),
        entries: delta.len() as u64,
        sha256: String::new(),
    };
    write_file(out, header, |emit| {
        let mut line = [b'\n'; 34];
        for change in delta.changes() {
            line[0] = match change {
                Change::Add(_) => b'+',
                Change::Remove(_) => b'-',
            };
            encode_key(change.key(), &mut line[1..33]);
            emit(&line)?;
        }
        Ok(())
    })
}

/// Writes a file durably and atomically: to `<path>.tmp`, synced, then renamed over `path`
/// (a crash leaves the old file or the new one, never half of one).
fn save(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> Result<(), DenyFileError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DenyFileError::Io { path, source }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    write(&mut file).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))
}

/// Saves `list` to `path` in the list format, atomically (a validator keeps its list current
/// across restarts after applying deltas; the back office writes the lists it issues).
pub fn save_list(list: &DenyList, path: impl AsRef<Path>) -> Result<(), DenyFileError> {
    save(path.as_ref(), |file| write_list(list, file))
}

/// Saves `delta` to `path` in the delta format, atomically.
pub fn save_delta(delta: &DenyDelta, path: impl AsRef<Path>) -> Result<(), DenyFileError> {
    save(path.as_ref(), |file| write_delta(delta, file))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use quickpass_kernel::values::Pan;

    fn salt() -> Salt {
        Salt::new(&[0x5A; 16]).unwrap()
    }

    fn list(version: u64, cards: &[(&str, Option<u8>)]) -> DenyList {
        let probe = DenyList::new(salt(), version);
        let keys = cards
            .iter()
            .map(|(pan, psn)| probe.card_key(&Pan::from_digits(pan).unwrap(), *psn));
        DenyList::from_keys(salt(), version, keys).unwrap()
    }

    fn sample() -> DenyList {
        list(
            7,
            &[
                ("6228480012345671", Some(0x01)),
                ("6250940012345675", Some(0x00)),
                ("6235010000000003", None),
            ],
        )
    }

    fn bytes_of_list(list: &DenyList) -> Vec<u8> {
        let mut out = Vec::new();
        write_list(list, &mut out).unwrap();
        out
    }

    fn bytes_of_delta(delta: &DenyDelta) -> Vec<u8> {
        let mut out = Vec::new();
        write_delta(delta, &mut out).unwrap();
        out
    }

    fn refused(bytes: &[u8]) -> ParseError {
        parse_list(bytes).unwrap_err()
    }

    /// Replaces line `n` (from 1) of `bytes` and re-signs the file, so that only the line's own
    /// problem is left.
    fn with_line(bytes: &[u8], n: usize, line: &str) -> Vec<u8> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[n - 1] = line.to_owned();
        resign(&lines)
    }

    /// The file of `lines` with its checksum recomputed over them (the header's `sha256`
    /// replaced; the header keeps its other fields as they are).
    fn resign(lines: &[String]) -> Vec<u8> {
        let mut header: Header = serde_json::from_str(&lines[0]).unwrap();
        header.sha256 = String::new();
        let mut hasher = Sha256Hasher::new();
        hasher.update(header.line().as_bytes());
        hasher.update(b"\n");
        for line in &lines[1..] {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        header.sha256 = hex::encode_upper(hasher.finish());
        let mut out = header.line().into_bytes();
        out.push(b'\n');
        for line in &lines[1..] {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The file with its header edited, then re-signed.
    fn header_with(bytes: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut header: Header = serde_json::from_str(&lines[0]).unwrap();
        edit(&mut header);
        lines[0] = header.line();
        resign(&lines)
    }

    #[test]
    fn a_list_round_trips_and_is_canonical() {
        let list = sample();
        let bytes = bytes_of_list(&list);
        let text = std::str::from_utf8(&bytes).unwrap();
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with(
                "{\"format\":\"quickpass-deny-list/1\",\"kind\":\"list\",\"version\":7,\"salt\":\"5A5A"
            ),
            "{first}"
        );
        assert!(first.contains("\"entries\":3,\"sha256\":\""), "{first}");
        assert_eq!(text.lines().count(), 4);
        assert!(!text.contains("6228480012345671"));
        let read = parse_list(&bytes).unwrap();
        assert_eq!(read.version(), 7);
        assert!(read.iter().eq(list.iter()));
        assert!(read.is_denied(&Pan::from_digits("6235010000000003").unwrap(), None));
        assert!(!read.is_denied(&Pan::from_digits("6235010000000003").unwrap(), Some(0)));
        assert_eq!(bytes_of_list(&read), bytes);
        // The empty list.
        let empty = DenyList::new(salt(), 1);
        let bytes = bytes_of_list(&empty);
        assert_eq!(std::str::from_utf8(&bytes).unwrap().lines().count(), 1);
        assert!(parse_list(&bytes).unwrap().is_empty());
    }

    #[test]
    fn a_delta_round_trips_and_applies() {
        let old = sample();
        let new = list(
            9,
            &[
                ("6228480012345671", Some(0x01)),
                ("6217001234567890122", Some(0x01)),
            ],
        );
        let delta = DenyDelta::between(&old, &new).unwrap();
        let bytes = bytes_of_delta(&delta);
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with(
            "{\"format\":\"quickpass-deny-list/1\",\"kind\":\"delta\",\"base\":7,\"version\":9,"
        ));
        assert_eq!(text.lines().filter(|l| l.starts_with('+')).count(), 1);
        assert_eq!(text.lines().filter(|l| l.starts_with('-')).count(), 2);
        let read = parse_delta(&bytes).unwrap();
        assert_eq!(read, delta);
        assert_eq!(bytes_of_delta(&read), bytes);
        let mut patched = old.clone();
        patched.apply(&read).unwrap();
        assert!(patched.iter().eq(new.iter()));
        assert_eq!(patched.version(), 9);
        // A list is not a delta, and the other way round.
        assert_eq!(
            parse_delta(&bytes_of_list(&old)).unwrap_err(),
            ParseError {
                line: 1,
                problem: Problem::WrongKind {
                    expected: FileKind::Delta,
                    found: FileKind::List
                }
            }
        );
        assert_eq!(
            parse_list(&bytes).unwrap_err().problem,
            Problem::WrongKind {
                expected: FileKind::List,
                found: FileKind::Delta
            }
        );
    }

    #[test]
    fn bad_headers_are_refused_on_line_1() {
        let good = bytes_of_list(&sample());
        let text = String::from_utf8(good.clone()).unwrap();
        let first = text.lines().next().unwrap();
        let problem = |bytes: &[u8]| {
            let error = refused(bytes);
            assert_eq!(error.line, 1, "{error}");
            error.problem
        };
        assert_eq!(problem(b""), Problem::NoHeader);
        assert!(matches!(problem(b"not json\n"), Problem::Header(_)));
        assert!(matches!(problem(b"[1,2]\n"), Problem::Header(_)));
        // An unknown field, a missing one, a field twice.
        let extra = text.replacen("\"kind\"", "\"comment\":\"x\",\"kind\"", 1);
        assert!(matches!(problem(extra.as_bytes()), Problem::Header(_)));
        let missing = text.replacen("\"version\":7,", "", 1);
        assert!(matches!(problem(missing.as_bytes()), Problem::Header(_)));
        let twice = text.replacen("\"version\":7,", "\"version\":7,\"version\":7,", 1);
        assert!(matches!(problem(twice.as_bytes()), Problem::Header(_)));
        let format = header_with(&good, |h| h.format = "quickpass-deny-list/2".into());
        assert_eq!(problem(&format), Problem::UnknownFormat);
        let kind = header_with(&good, |h| h.kind = "hot".into());
        assert!(matches!(problem(&kind), Problem::Header(_)));
        for salt in [
            "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a".to_owned(),
            "5A5A".to_owned(),
            "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5AZZ".to_owned(),
            "5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5A5".to_owned(),
            "5A".repeat(65),
        ] {
            let bad = header_with(&good, |h| h.salt = salt.clone());
            assert_eq!(problem(&bad), Problem::BadSalt, "{salt}");
        }
        let base = header_with(&good, |h| h.base = Some(3));
        assert_eq!(problem(&base), Problem::BadVersion);
        let short_sha = text.replacen("\"sha256\":\"", "\"sha256\":\"AB", 1);
        assert_eq!(problem(short_sha.as_bytes()), Problem::BadChecksumField);
        let sha = &first[first.len() - 66..first.len() - 2];
        let lower_sha = text.replacen(sha, &sha.to_ascii_lowercase(), 1);
        assert_eq!(problem(lower_sha.as_bytes()), Problem::BadChecksumField);
        // Spaces or another field order: not the canonical form.
        let spaced = text.replacen("\"kind\":\"list\"", "\"kind\": \"list\"", 1);
        assert_eq!(problem(spaced.as_bytes()), Problem::NotCanonical);
        let reordered = text.replacen(
            "\"kind\":\"list\",\"version\":7",
            "\"version\":7,\"kind\":\"list\"",
            1,
        );
        assert_eq!(problem(reordered.as_bytes()), Problem::NotCanonical);
        // No newline after the header; a huge line.
        assert_eq!(
            problem(first.as_bytes()),
            Problem::Truncated {
                declared: 0,
                found: 0
            }
        );
        assert_eq!(problem(&[b'{'; 5000]), Problem::LineTooLong);
    }

    #[test]
    fn every_malformed_body_class_names_its_line() {
        let good = bytes_of_list(&sample());
        let text = String::from_utf8(good.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let expected = "32 upper-case hex digits";
        // Bad hex: lower case, a non-hex digit, short, long, empty.
        for (line, bad) in [
            (2, lines[1].to_ascii_lowercase()),
            (3, format!("{}G", &lines[2][..31])),
            (4, lines[3][..30].to_owned()),
            (3, format!("{}00", lines[2])),
            (2, String::new()),
            (2, format!("+{}", &lines[1][1..])),
        ] {
            assert_eq!(
                refused(&with_line(&good, line, &bad)),
                ParseError {
                    line,
                    problem: Problem::BadEntry { expected }
                },
                "{bad:?}"
            );
        }
        // Duplicate and out of order (re-signed, so only the order is wrong).
        assert_eq!(
            refused(&with_line(&good, 3, lines[1])),
            ParseError {
                line: 3,
                problem: Problem::Duplicate { previous: 2 }
            }
        );
        assert_eq!(
            refused(&resign(&[
                lines[0].into(),
                lines[2].into(),
                lines[1].into(),
                lines[3].into()
            ])),
            ParseError {
                line: 3,
                problem: Problem::OutOfOrder { previous: 2 }
            }
        );
        // Wrong count: the header says 2 or 4 (re-signed).
        let fewer = header_with(&good, |h| h.entries = 2);
        assert_eq!(
            refused(&fewer),
            ParseError {
                line: 4,
                problem: Problem::TooManyEntries { declared: 2 }
            }
        );
        let more = header_with(&good, |h| h.entries = 4);
        assert_eq!(
            refused(&more),
            ParseError {
                line: 5,
                problem: Problem::Truncated {
                    declared: 4,
                    found: 3
                }
            }
        );
        // Truncated: at every byte.
        for cut in lines[0].len() + 1..good.len() {
            let error = refused(&good[..cut]);
            assert!(
                matches!(error.problem, Problem::Truncated { declared: 3, .. }),
                "cut at {cut}: {error}"
            );
            let complete = good[..cut].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(error.line, complete + 1, "cut at {cut}");
        }
        // Edited: a valid, in-order key replaced without re-signing; the salt or version edited.
        let mut edited = good.clone();
        let at = lines[0].len() + 1 + 31;
        edited[at] = if edited[at] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            refused(&edited),
            ParseError {
                line: 1,
                problem: Problem::Checksum
            }
        );
        let salt_edited = text.replacen("5A5A", "5A5B", 1);
        assert_eq!(refused(salt_edited.as_bytes()).problem, Problem::Checksum);
        let version_edited = text.replacen("\"version\":7", "\"version\":8", 1);
        assert_eq!(
            refused(version_edited.as_bytes()).problem,
            Problem::Checksum
        );
        // Trailing junk: a line too long, or one more entry than declared.
        let mut junk = good.clone();
        junk.extend_from_slice(&[b'x'; 100]);
        assert_eq!(
            refused(&junk),
            ParseError {
                line: 5,
                problem: Problem::LineTooLong
            }
        );
        let mut crlf = good.clone();
        crlf.truncate(crlf.len() - 1);
        crlf.extend_from_slice(b"\r\n");
        assert!(matches!(refused(&crlf).problem, Problem::BadEntry { .. }));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let good = bytes_of_list(&sample());
        for byte in 0..good.len() {
            for bit in 0..8 {
                let mut damaged = good.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    parse_list(&damaged).is_err(),
                    "flip of bit {bit} of byte {byte} accepted"
                );
            }
        }
    }

    #[test]
    fn malformed_delta_lines() {
        let old = sample();
        let new = list(8, &[("6228480012345671", Some(0x02))]);
        let good = bytes_of_delta(&DenyDelta::between(&old, &new).unwrap());
        let text = String::from_utf8(good.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let expected = "+ or -, then 32 upper-case hex digits";
        for bad in [&lines[1][1..], &format!("*{}", &lines[1][1..]), "+", ""] {
            assert_eq!(
                parse_delta(&with_line(&good, 2, bad)).unwrap_err(),
                ParseError {
                    line: 2,
                    problem: Problem::BadEntry { expected }
                },
                "{bad:?}"
            );
        }
        // The same key added and removed.
        let twice = format!("-{}", &lines[1][1..]);
        let mut both: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        both.insert(2, twice);
        let header = header_with(&resign(&both), |h| h.entries += 1);
        assert_eq!(
            parse_delta(&header).unwrap_err(),
            ParseError {
                line: 3,
                problem: Problem::Duplicate { previous: 2 }
            }
        );
        // No base, or a version not after it.
        let no_base = header_with(&good, |h| h.base = None);
        assert_eq!(
            parse_delta(&no_base).unwrap_err().problem,
            Problem::BadVersion
        );
        let backwards = header_with(&good, |h| h.version = 7);
        assert_eq!(
            parse_delta(&backwards).unwrap_err().problem,
            Problem::BadVersion
        );
    }

    #[test]
    fn files_load_apply_and_save() {
        let dir = std::env::temp_dir().join(format!("quickpass-deny-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let old = sample();
        let new = list(
            8,
            &[("6228480012345671", Some(0x01)), ("6228480012345689", None)],
        );
        let delta = DenyDelta::between(&old, &new).unwrap();
        save_list(&old, dir.join("list.deny")).unwrap();
        save_delta(&delta, dir.join("delta.deny")).unwrap();
        assert!(!dir.join("list.deny.tmp").exists());
        let mut loaded = load(dir.join("list.deny")).unwrap();
        let applied = apply_delta(&mut loaded, dir.join("delta.deny")).unwrap();
        assert_eq!((applied.added, applied.removed, applied.version), (1, 2, 8));
        assert!(loaded.iter().eq(new.iter()));
        // Again: the delta no longer follows (line 1), the list unchanged.
        match apply_delta(&mut loaded, dir.join("delta.deny")) {
            Err(DenyFileError::Refused {
                line: 1,
                source:
                    DeltaError::VersionMismatch {
                        current: 8,
                        base: 7,
                    },
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        // A delta whose remove is not on the list: refused at the line of that change.
        let stale = DenyDelta::new(
            salt(),
            8,
            9,
            vec![Change::Remove(old.card_key(
                &Pan::from_digits("6250940012345675").unwrap(),
                Some(0),
            ))],
        )
        .unwrap();
        save_delta(&stale, dir.join("stale.deny")).unwrap();
        match apply_delta(&mut loaded, dir.join("stale.deny")) {
            Err(DenyFileError::Refused {
                line: 2,
                source: DeltaError::NotPresent { position: 0 },
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(loaded.version(), 8);
        // Missing file, wrong kind, with the path in the message.
        assert!(matches!(
            load(dir.join("none.deny")),
            Err(DenyFileError::Io { .. })
        ));
        let error = load(dir.join("delta.deny")).unwrap_err();
        assert!(matches!(
            &error,
            DenyFileError::Invalid {
                source: ParseError { line: 1, .. },
                ..
            }
        ));
        let line = crate::report::error_chain(&error);
        assert!(
            line.contains("delta.deny")
                && line.contains("line 1: a delta where a list is expected"),
            "{line}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        /// No input panics; whatever is accepted writes back to exactly its bytes.
        #[test]
        fn damaged_files_never_panic(
            edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..4),
            cut in 0usize..400,
            delta in proptest::prelude::any::<bool>(),
        ) {
            let old = sample();
            let new = list(8, &[("6228480012345671", Some(0x02))]);
            let mut bytes = if delta {
                bytes_of_delta(&DenyDelta::between(&old, &new).unwrap())
            } else {
                bytes_of_list(&old)
            };
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            if cut < bytes.len() && cut % 3 == 0 {
                bytes.truncate(cut);
            }
            if let Ok(list) = parse_list(&bytes) {
                proptest::prop_assert_eq!(bytes_of_list(&list), bytes.clone());
            }
            if let Ok(delta) = parse_delta(&bytes) {
                proptest::prop_assert_eq!(bytes_of_delta(&delta), bytes);
            }
        }
    }
}
