//! Kernel identifiers (EMV Contactless Book B §3.3.2, Book A §5.8; pboc-notes §8.2): which
//! kernel a combination runs, from the card's `9F2A` in its PPSE entry or, when the card names
//! none, the default of the AID's RID. Every id the reader knows is here, once.

use alloc::{vec, vec::Vec};

use crate::values::Aid;

/// A kernel this reader knows. The ids are EMVCo's short kernel identifiers (Book B Table 3-x,
/// pboc-notes §8.2): 2 Mastercard, 3 Visa, 4 American Express, 7 UnionPay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelId {
    /// Kernel 2, Mastercard (EMV Book C-2; built in `c2`).
    C2,
    /// Kernel 3, Visa qVSDC (EMV Book C-3; [`crate::c3`]).
    C3,
    /// Kernel 4, American Express ExpressPay (EMV Book C-4; built in `c4`).
    C4,
    /// Kernel 7, UnionPay QuickPass qPBOC (JR/T 0025.12; [`crate::contactless`]).
    Qpboc,
}

/// RIDs and their default kernel when the PPSE entry names none (Book B §3.3.2.5 ⚠,
/// pboc-notes §8.2): one table, the only place a RID decides a kernel.
const DEFAULT_BY_RID: [([u8; 5], KernelId); 4] = [
    ([0xA0, 0x00, 0x00, 0x00, 0x04], KernelId::C2),
    ([0xA0, 0x00, 0x00, 0x00, 0x03], KernelId::C3),
    ([0xA0, 0x00, 0x00, 0x00, 0x25], KernelId::C4),
    ([0xA0, 0x00, 0x00, 0x03, 0x33], KernelId::Qpboc),
];

impl KernelId {
    /// Every kernel id, in id order.
    pub const ALL: [KernelId; 4] = [KernelId::C2, KernelId::C3, KernelId::C4, KernelId::Qpboc];

    /// The short kernel identifier (2, 3, 4, 7).
    pub const fn id(self) -> u8 {
        match self {
            KernelId::C2 => 2,
            KernelId::C3 => 3,
            KernelId::C4 => 4,
            KernelId::Qpboc => 7,
        }
    }

    /// The kernel of a short identifier, `None` for one this reader does not know.
    pub fn from_id(id: u8) -> Option<KernelId> {
        KernelId::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The default kernel of a RID (Book B: the kernel a card's AID implies when its PPSE
    /// entry has no `9F2A`), `None` for a RID without one.
    pub fn default_for_rid(rid: [u8; 5]) -> Option<KernelId> {
        DEFAULT_BY_RID
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, kernel)| *kernel)
    }

    /// [`KernelId::default_for_rid`] of the AID's RID.
    pub fn default_for_aid(aid: &Aid) -> Option<KernelId> {
        KernelId::default_for_rid(aid.rid())
    }

    /// The lower-case name (`qpboc`, `c2`, `c3`, `c4`) used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelId::C2 => "c2",
            KernelId::C3 => "c3",
            KernelId::C4 => "c4",
            KernelId::Qpboc => "qpboc",
        }
    }

    /// Whether this build has the kernel. A combination naming a kernel that is not built is
    /// skipped as one naming an unknown kernel is (Book B: next combination).
    pub fn is_built(self) -> bool {
        // C-2 runs when the caller brings its reader state (`contactless::transact_routed`);
        // a combination of it is skipped before SELECT otherwise. C-4 is not routed yet.
        matches!(self, KernelId::C2 | KernelId::C3 | KernelId::Qpboc)
    }
}

impl core::fmt::Display for KernelId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a PPSE entry asks for: the kernel named by its `9F2A`, or the RID's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedKernel {
    /// A kernel this reader knows.
    Known(KernelId),
    /// A kernel this reader does not know (an unknown short id, a domestic or proprietary
    /// extended id): the entry makes no combination.
    Unknown(Vec<u8>),
    /// No `9F2A` (or short id 0) under a RID without a default kernel: the kernel the
    /// terminal configures for the matching AID runs (pboc-notes §8.2 ⚠).
    Unspecified,
}

impl RequestedKernel {
    /// The kernel an entry for `aid` with kernel identifier `identifier` (`9F2A` value)
    /// requests (Book B §3.3.2.5 ⚠, pboc-notes §8.2): no `9F2A`, an empty one or a short id 0
    /// take the RID's default; byte 1 b8–b7 `00` (an international kernel) names the short id
    /// in b6–b1; anything else (domestic, proprietary) is not a kernel this reader runs.
    pub fn of_entry(aid: &Aid, identifier: Option<&[u8]>) -> RequestedKernel {
        let default = || match KernelId::default_for_aid(aid) {
            Some(kernel) => RequestedKernel::Known(kernel),
            None => RequestedKernel::Unspecified,
        };
        let Some(&first) = identifier.and_then(<[u8]>::first) else {
            return default();
        };
        if first & 0xC0 != 0 {
            return RequestedKernel::Unknown(identifier.unwrap_or_default().to_vec());
        }
        match first & 0x3F {
            0 => default(),
            short => match KernelId::from_id(short) {
                Some(kernel) => RequestedKernel::Known(kernel),
                None => RequestedKernel::Unknown(vec![first]),
            },
        }
    }

    /// The kernel, when the entry names one the reader knows.
    pub fn known(&self) -> Option<KernelId> {
        match self {
            RequestedKernel::Known(kernel) => Some(*kernel),
            RequestedKernel::Unknown(_) | RequestedKernel::Unspecified => None,
        }
    }

    /// Whether a terminal AID running `kernel` can serve this entry.
    pub fn accepts(&self, kernel: KernelId) -> bool {
        match self {
            RequestedKernel::Known(requested) => *requested == kernel,
            RequestedKernel::Unspecified => true,
            RequestedKernel::Unknown(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aid(text: &str) -> Aid {
        text.parse().expect("aid")
    }

    #[test]
    fn ids_round_trip_and_rids_default() {
        for kernel in KernelId::ALL {
            assert_eq!(KernelId::from_id(kernel.id()), Some(kernel));
        }
        assert_eq!(KernelId::from_id(1), None);
        assert_eq!(
            KernelId::default_for_aid(&aid("A0000000031010")),
            Some(KernelId::C3)
        );
        assert_eq!(
            KernelId::default_for_aid(&aid("A000000333010101")),
            Some(KernelId::Qpboc)
        );
        assert_eq!(KernelId::default_for_aid(&aid("A0000006320101")), None);
        assert_eq!(
            RequestedKernel::of_entry(&aid("A0000006320101"), None),
            RequestedKernel::Unspecified
        );
        assert!(RequestedKernel::Unspecified.accepts(KernelId::Qpboc));
    }

    #[test]
    fn the_entry_names_the_kernel_or_the_rid_does() {
        let visa = aid("A0000000031010");
        assert_eq!(
            RequestedKernel::of_entry(&visa, None).known(),
            Some(KernelId::C3)
        );
        assert_eq!(
            RequestedKernel::of_entry(&visa, Some(&[0x07])).known(),
            Some(KernelId::Qpboc)
        );
        assert_eq!(
            RequestedKernel::of_entry(&visa, Some(&[0x00])).known(),
            Some(KernelId::C3)
        );
        assert_eq!(
            RequestedKernel::of_entry(&visa, Some(&[0x09])),
            RequestedKernel::Unknown(vec![0x09])
        );
        assert!(RequestedKernel::of_entry(&visa, Some(&[0x83, 0x01, 0x02]))
            .known()
            .is_none());
    }
}
