//! Combinations and the candidate list (EMV Contactless Book B §3.3.2–3.3.3; pboc-notes §8.2):
//! a combination is a PPSE entry, the terminal AID it matched and the kernel both agree on; the
//! candidate list orders them by the card's priority, then by directory order, then by the
//! terminal's order for one entry.

use alloc::vec::Vec;

use crate::config::AidParameters;
use crate::selection::{DirectoryEntry, PriorityIndicator};

use super::kernel_id::{KernelId, RequestedKernel};

/// One (AID, kernel) combination the card and the reader share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination {
    /// The card's PPSE entry.
    pub entry: DirectoryEntry,
    /// Index into the terminal's AID list of the parameters it matched.
    pub terminal_aid: usize,
    /// The kernel the combination runs.
    pub kernel: KernelId,
}

/// Why a PPSE entry made no combination (kept for the tap's reason and for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// No terminal AID matches the entry's AID.
    AidNotSupported,
    /// The entry asks for a kernel this reader does not know.
    UnknownKernel(Vec<u8>),
    /// The entry's kernel is known but no terminal AID for it runs that kernel (or the kernel
    /// is not built).
    KernelNotSupported(KernelId),
    /// Pre-processing found every matching combination not allowed at this amount.
    NotAllowed,
}

/// The ordered candidate list of a tap, taken from the front as combinations are tried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    combinations: Vec<Combination>,
    skipped: Vec<(DirectoryEntry, Skipped)>,
}

impl Candidates {
    /// Builds the candidate list (Book B §3.3.2): for each entry, the terminal AIDs matching its
    /// AID (under their ASI) whose kernel is the one the entry requests (any, when the entry
    /// names none and its RID has no default) and is built,
    /// and that `allowed` (pre-processing) lets through. Ordered by priority (1 first, none
    /// last), then directory order, then terminal order.
    pub fn build(
        entries: Vec<DirectoryEntry>,
        aids: &[AidParameters],
        allowed: impl Fn(usize) -> bool,
    ) -> Candidates {
        let mut candidates = Candidates::default();
        for entry in entries {
            let requested =
                RequestedKernel::of_entry(&entry.aid, entry.kernel_identifier.as_deref());
            let matching: Vec<usize> = aids
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    crate::selection::TerminalAid {
                        aid: a.aid,
                        partial_match: a.partial_match,
                    }
                    .matches(&entry.aid)
                })
                .map(|(i, _)| i)
                .collect();
            if matching.is_empty() {
                candidates.skipped.push((entry, Skipped::AidNotSupported));
                continue;
            }
            if let RequestedKernel::Unknown(id) = &requested {
                let why = Skipped::UnknownKernel(id.clone());
                candidates.skipped.push((entry, why));
                continue;
            }
            let runs: Vec<(usize, KernelId)> = matching
                .into_iter()
                .filter_map(|i| Some((i, aids[i].kernel()?)))
                .filter(|&(_, kernel)| requested.accepts(kernel) && kernel.is_built())
                .collect();
            if runs.is_empty() {
                let why = match requested.known() {
                    Some(kernel) => Skipped::KernelNotSupported(kernel),
                    None => Skipped::AidNotSupported,
                };
                candidates.skipped.push((entry, why));
                continue;
            }
            let mut any = false;
            for (terminal_aid, kernel) in runs.into_iter().filter(|&(i, _)| allowed(i)) {
                any = true;
                candidates.combinations.push(Combination {
                    entry: entry.clone(),
                    terminal_aid,
                    kernel,
                });
            }
            if !any {
                candidates.skipped.push((entry, Skipped::NotAllowed));
            }
        }
        // A stable sort keeps directory order, then terminal order, among equal priorities.
        candidates.combinations.sort_by_key(|c| {
            c.entry
                .priority
                .and_then(PriorityIndicator::order)
                .unwrap_or(u8::MAX)
        });
        candidates
    }

    /// The combinations still to try, first first.
    pub fn combinations(&self) -> &[Combination] {
        &self.combinations
    }

    /// The entries that made no combination, and why.
    pub fn skipped(&self) -> &[(DirectoryEntry, Skipped)] {
        &self.skipped
    }

    /// Whether no combination is left.
    pub fn is_empty(&self) -> bool {
        self.combinations.is_empty()
    }

    /// Removes and returns the first combination (final selection; after a *Select Next*, the
    /// next one).
    pub fn take_first(&mut self) -> Option<Combination> {
        (!self.combinations.is_empty()).then(|| self.combinations.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::PriorityIndicator;
    use crate::values::Aid;

    fn aid(text: &str) -> Aid {
        text.parse().expect("aid")
    }

    fn entry(aid_hex: &str, priority: Option<u8>, kernel: Option<&[u8]>) -> DirectoryEntry {
        DirectoryEntry {
            aid: aid(aid_hex),
            label: None,
            preferred_name: None,
            priority: priority.map(PriorityIndicator),
            kernel_identifier: kernel.map(<[u8]>::to_vec),
        }
    }

    fn terminal(aid_hex: &str, kernel_id: Option<u8>) -> AidParameters {
        AidParameters {
            aid: aid(aid_hex),
            partial_match: true,
            application_version: [0, 0x30],
            tac_default: [0; 5],
            tac_denial: [0; 5],
            tac_online: [0; 5],
            floor_limit: 0,
            contactless_transaction_limit: None,
            cvm_limit: None,
            contactless_floor_limit: None,
            random_selection: None,
            default_ddol: vec![0x9F, 0x37, 0x04],
            default_tdol: Vec::new(),
            ec_supported: false,
            ec_terminal_limit: None,
            status_check: false,
            transit_online_oda: false,
            kernel_id,
            ttq: None,
            zero_amount_allowed: None,
            program_limits: Vec::new(),
        }
    }

    #[test]
    fn order_is_priority_then_directory_then_terminal_and_skips_say_why() {
        let aids = [
            terminal("A0000003330101", None),
            terminal("A0000000031010", None),
            terminal("A00000033301", None), // a second qPBOC AID for the same entries
            terminal("A000000025010801", None), // C-4: not routed
        ];
        let entries = vec![
            entry("A000000333010102", None, None),
            entry("A0000000031010", Some(2), None),
            entry("A000000333010101", Some(1), Some(&[0x07])),
            entry("A000000025010801", Some(1), None),
            entry("A000000333010106", Some(1), Some(&[0x09])),
            entry("A000000632010105", Some(1), None),
        ];
        let candidates = Candidates::build(entries, &aids, |_| true);
        let order: Vec<(String, usize, KernelId)> = candidates
            .combinations()
            .iter()
            .map(|c| (c.entry.aid.to_string(), c.terminal_aid, c.kernel))
            .collect();
        assert_eq!(
            order,
            [
                ("A000000333010101".to_owned(), 0, KernelId::Qpboc),
                ("A000000333010101".to_owned(), 2, KernelId::Qpboc),
                ("A0000000031010".to_owned(), 1, KernelId::C3),
                ("A000000333010102".to_owned(), 0, KernelId::Qpboc),
                ("A000000333010102".to_owned(), 2, KernelId::Qpboc),
            ]
        );
        let skipped: Vec<(String, Skipped)> = candidates
            .skipped()
            .iter()
            .map(|(e, why)| (e.aid.to_string(), why.clone()))
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "A000000025010801".to_owned(),
                    Skipped::KernelNotSupported(KernelId::C4)
                ),
                (
                    "A000000333010106".to_owned(),
                    Skipped::UnknownKernel(vec![0x09])
                ),
                ("A000000632010105".to_owned(), Skipped::AidNotSupported),
            ]
        );

        // Pre-processing drops a combination; an entry with none left says so.
        let candidates =
            Candidates::build(vec![entry("A0000000031010", None, None)], &aids, |i| i != 1);
        assert!(candidates.is_empty());
        assert_eq!(candidates.skipped()[0].1, Skipped::NotAllowed);
    }
}
