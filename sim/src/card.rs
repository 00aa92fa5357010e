//! The virtual card: directories (PPSE, PSE), application selection and command dispatch.

use quickpass_kernel::tlv;
use quickpass_kernel::transport::{
    Atr, CardPresence, LifecycleError, LinkFailure, Transport, TransportError,
};
use quickpass_kernel::values::StatusWord;
use quickpass_kernel::{tags, Tag};

use super::apdu::{CommandApdu, Reply};

/// `2PAY.SYS.DDF01`, the contactless directory.
pub const PPSE_NAME: &[u8] = b"2PAY.SYS.DDF01";
/// `1PAY.SYS.DDF01`, the contact directory.
pub const PSE_NAME: &[u8] = b"1PAY.SYS.DDF01";
/// The SFI of the PSE directory records.
pub const PSE_DIRECTORY_SFI: u8 = 1;
/// ATR of a contactless ISO 14443-4 card without historical bytes (PC/SC part 3).
pub const CONTACTLESS_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// `6D00`: instruction not supported (no application takes it).
const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
/// `6E00`: class not supported.
const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
/// `6700`: wrong length (the bytes are not a well-formed short APDU).
const WRONG_LENGTH: StatusWord = StatusWord(0x6700);

/// Failures a card transport reports instead of a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The card left the field (tear): no response came back.
    #[error("card removed")]
    CardRemoved,
    /// The card did not answer in time.
    #[error("card timed out")]
    Timeout,
}

/// One application on the card (an ADF), as the dispatcher sees it.
pub trait Application: Send {
    /// The DF name (AID) the application is selected by.
    fn df_name(&self) -> &[u8];

    /// A two-byte file identifier it can also be selected by (`00 A4 00 00 02 FID`), if any.
    fn file_id(&self) -> Option<[u8; 2]> {
        None
    }

    /// The value of its `61` directory entry (`4F`, `50`, `87`, …), or `None` to stay unlisted.
    fn directory_entry(&self) -> Option<Vec<u8>>;

    /// Listed in the contactless directory (PPSE).
    fn in_ppse(&self) -> bool;

    /// Listed in the contact directory (PSE).
    fn in_pse(&self) -> bool;

    /// Handles SELECT of this application: the FCI, or a refusal such as `6283` (blocked).
    fn select(&mut self) -> Reply;

    /// Handles any other command while the application is selected.
    fn process(&mut self, command: &CommandApdu<'_>) -> Reply;

    /// A card reset or power cycle: drop session state, keep what the card stores.
    fn reset(&mut self);

    /// Lets the dispatcher hand an application back to its concrete type.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;

    /// An identical copy (keys, data, counters and session state), or `None` when the
    /// application cannot be copied. Tests use it to tap many fresh cards without
    /// personalising each (issuing certificates costs RSA private-key operations).
    fn duplicate(&self) -> Option<Box<dyn Application>> {
        None
    }
}

/// What is selected at the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    Ppse,
    Pse,
    Application(usize),
}

/// A simulated card: directories plus applications.
pub struct VirtualCard {
    atr: Vec<u8>,
    ppse: bool,
    pse: bool,
    applications: Vec<Box<dyn Application>>,
    selected: Selected,
    exchanges: u64,
}

impl core::fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("applications", &self.applications.len())
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl VirtualCard {
    /// A card with the given ATR and directories, and no applications yet.
    pub fn new(atr: Vec<u8>, ppse: bool, pse: bool) -> Self {
        VirtualCard {
            atr,
            ppse,
            pse,
            applications: Vec::new(),
            selected: Selected::Nothing,
            exchanges: 0,
        }
    }

    /// Adds an application (directory order is insertion order).
    pub fn add_application(&mut self, application: Box<dyn Application>) {
        self.applications.push(application);
    }

    /// An identical copy of the card — directories, selection, counters and every
    /// application's state — or `None` when one of its applications cannot be copied
    /// ([`Application::duplicate`]).
    pub fn duplicate(&self) -> Option<VirtualCard> {
        let applications = self
            .applications
            .iter()
            .map(|a| a.duplicate())
            .collect::<Option<Vec<_>>>()?;
        Some(VirtualCard {
            atr: self.atr.clone(),
            ppse: self.ppse,
            pse: self.pse,
            applications,
            selected: self.selected,
            exchanges: self.exchanges,
        })
    }

    /// The answer to reset.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// Number of APDUs processed since the card was made.
    pub fn exchanges(&self) -> u64 {
        self.exchanges
    }

    /// Cold or warm reset: nothing selected, every application's session state dropped.
    pub fn reset(&mut self) {
        self.selected = Selected::Nothing;
        for application in &mut self.applications {
            application.reset();
        }
    }

    /// The first application of concrete type `A` (to inspect or change its state in tests).
    pub fn application_mut<A: Application + 'static>(&mut self) -> Option<&mut A> {
        self.applications
            .iter_mut()
            .find_map(|a| a.as_any_mut().downcast_mut::<A>())
    }

    /// Processes one C-APDU and returns the R-APDU bytes.
    pub fn process_apdu(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.exchanges += 1;
        let reply = match CommandApdu::parse(bytes) {
            Some(command) => self.process(&command),
            None => Reply::status(WRONG_LENGTH),
        };
        reply.to_bytes()
    }

    fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
        if command.cla == 0xFF {
            return Reply::status(CLA_NOT_SUPPORTED);
        }
        if command.ins == 0xA4 && command.cla & 0xF0 == 0x00 {
            return self.select(command);
        }
        match self.selected {
            Selected::Application(index) => self.applications[index].process(command),
            Selected::Pse if command.ins == 0xB2 => self.read_pse_record(command),
            Selected::Ppse | Selected::Pse => Reply::status(INS_NOT_SUPPORTED),
            Selected::Nothing => Reply::status(StatusWord::CONDITIONS_NOT_SATISFIED),
        }
    }

    fn select(&mut self, command: &CommandApdu<'_>) -> Reply {
        match command.p1 {
            0x04 => self.select_by_name(command.data, command.p2 & 0x02 != 0),
            0x00 if command.data.len() == 2 => {
                let fid = [command.data[0], command.data[1]];
                match self
                    .applications
                    .iter()
                    .position(|a| a.file_id() == Some(fid))
                {
                    Some(index) => self.select_application(index),
                    None => self.not_found(),
                }
            }
            _ => Reply::status(StatusWord(0x6A86)),
        }
    }

    fn select_by_name(&mut self, name: &[u8], next: bool) -> Reply {
        if name == PPSE_NAME && self.ppse {
            self.selected = Selected::Ppse;
            return Reply::ok(self.ppse_fci());
        }
        if name == PSE_NAME && self.pse {
            self.selected = Selected::Pse;
            return Reply::ok(self.pse_fci());
        }
        // ISO/IEC 7816-4: a DF name may be given partially; P2 02 asks for the next match after
        // the current one.
        let start = match (next, self.selected) {
            (true, Selected::Application(current)) => current + 1,
            _ => 0,
        };
        let found = (start..self.applications.len())
            .find(|&i| self.applications[i].df_name().starts_with(name) && !name.is_empty());
        match found {
            Some(index) => self.select_application(index),
            None => self.not_found(),
        }
    }

    fn select_application(&mut self, index: usize) -> Reply {
        let reply = self.applications[index].select();
        // A blocked application (6283) is still selected; anything else non-9000 is not.
        self.selected = if reply.sw == StatusWord::OK || reply.sw == StatusWord(0x6283) {
            Selected::Application(index)
        } else {
            Selected::Nothing
        };
        reply
    }

    fn not_found(&mut self) -> Reply {
        self.selected = Selected::Nothing;
        Reply::status(StatusWord::FILE_NOT_FOUND)
    }

    fn ppse_fci(&self) -> Vec<u8> {
        let entries = self.entries(|a| a.in_ppse());
        let discretionary = tlv::encoded(tags::FCI_ISSUER_DISCRETIONARY_DATA, &entries);
        let proprietary = tlv::encoded(tags::FCI_PROPRIETARY_TEMPLATE, &discretionary);
        fci(PPSE_NAME, &proprietary)
    }

    fn pse_fci(&self) -> Vec<u8> {
        let proprietary = tlv::encoded(
            tags::FCI_PROPRIETARY_TEMPLATE,
            &tlv::encoded(tags::SFI, &[PSE_DIRECTORY_SFI]),
        );
        fci(PSE_NAME, &proprietary)
    }

    fn entries(&self, listed: impl Fn(&dyn Application) -> bool) -> Vec<u8> {
        let mut entries = Vec::new();
        for application in &self.applications {
            if listed(application.as_ref()) {
                if let Some(entry) = application.directory_entry() {
                    tlv::encode(tags::APPLICATION_TEMPLATE, &entry, &mut entries);
                }
            }
        }
        entries
    }

    /// PSE directory: one `70` record per listed application, then `6A83`.
    fn read_pse_record(&self, command: &CommandApdu<'_>) -> Reply {
        if command.p2 != (PSE_DIRECTORY_SFI << 3) | 0x04 {
            return Reply::status(StatusWord::FILE_NOT_FOUND);
        }
        let listed: Vec<Vec<u8>> = self
            .applications
            .iter()
            .filter(|a| a.in_pse())
            .filter_map(|a| a.directory_entry())
            .collect();
        match usize::from(command.p1)
            .checked_sub(1)
            .and_then(|i| listed.get(i))
        {
            Some(entry) => Reply::ok(tlv::encoded(
                tags::RECORD_TEMPLATE,
                &tlv::encoded(tags::APPLICATION_TEMPLATE, entry),
            )),
            None => Reply::status(StatusWord::RECORD_NOT_FOUND),
        }
    }
}

/// `6F { 84 name, <proprietary template> }`.
fn fci(name: &[u8], proprietary: &[u8]) -> Vec<u8> {
    let mut body = tlv::encoded(tags::DF_NAME, name);
    body.extend_from_slice(proprietary);
    tlv::encoded(tags::FCI_TEMPLATE, &body)
}

/// Helper for applications: encodes `tag` with `value` and appends it.
pub fn push_tlv(out: &mut Vec<u8>, tag: Tag, value: &[u8]) {
    tlv::encode(tag, value, out);
}

impl TransportError for SimError {
    fn link_failure(&self) -> LinkFailure {
        match self {
            SimError::CardRemoved => LinkFailure::CardRemoved,
            SimError::Timeout => LinkFailure::Timeout,
        }
    }
}

impl Transport for VirtualCard {
    type Error = SimError;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, SimError> {
        Ok(self.process_apdu(command))
    }

    /// Always in the field (take it away through [`crate::faults::FaultyCard`]).
    fn card_presence(&mut self) -> Result<CardPresence, SimError> {
        Ok(CardPresence::Present)
    }

    /// [`VirtualCard::reset`]: nothing selected, session state dropped; the card's ATR.
    fn warm_reset(&mut self) -> Result<Atr, LifecycleError<SimError>> {
        self.reset();
        Ok(Atr::new(self.atr.clone()))
    }

    /// As a warm reset: the simulated card keeps no state that a power cycle would clear and a
    /// warm reset would not.
    fn cold_reset(&mut self) -> Result<Atr, LifecycleError<SimError>> {
        self.warm_reset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy {
        name: Vec<u8>,
        selects: usize,
    }

    impl Application for Dummy {
        fn df_name(&self) -> &[u8] {
            &self.name
        }
        fn directory_entry(&self) -> Option<Vec<u8>> {
            Some(tlv::encoded(tags::AID, &self.name))
        }
        fn in_ppse(&self) -> bool {
            true
        }
        fn in_pse(&self) -> bool {
            true
        }
        fn select(&mut self) -> Reply {
            self.selects += 1;
            Reply::ok(fci(&self.name.clone(), &[]))
        }
        fn process(&mut self, command: &CommandApdu<'_>) -> Reply {
            Reply::ok(vec![command.ins])
        }
        fn reset(&mut self) {}
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    }

    fn card() -> VirtualCard {
        let mut card = VirtualCard::new(CONTACTLESS_ATR.to_vec(), true, true);
        for last in [0x01, 0x02] {
            card.add_application(Box::new(Dummy {
                name: vec![0xA0, 0, 0, 0x03, 0x33, 0x01, 0x01, last],
                selects: 0,
            }));
        }
        card
    }

    fn run(card: &mut VirtualCard, hex_apdu: &str) -> String {
        hex::encode_upper(card.process_apdu(&hex::decode(hex_apdu).expect("hex")))
    }

    #[test]
    fn ppse_lists_every_application() {
        let mut card = card();
        let response = run(&mut card, "00A404000E325041592E5359532E444446303100");
        assert!(response.starts_with("6F"));
        assert!(response.contains("4F08A000000333010101"));
        assert!(response.contains("4F08A000000333010102"));
        assert!(response.ends_with("9000"));
    }

    #[test]
    fn partial_select_and_next_occurrence() {
        let mut card = card();
        assert!(run(&mut card, "00A4040007A000000333010100").contains("A000000333010101"));
        assert!(run(&mut card, "00A4040207A000000333010100").contains("A000000333010102"));
        assert_eq!(run(&mut card, "00A4040207A000000333010100"), "6A82");
        assert_eq!(run(&mut card, "80A8000002830000"), "6985");
    }

    #[test]
    fn pse_records_then_record_not_found() {
        let mut card = card();
        run(&mut card, "00A404000E315041592E5359532E444446303100");
        assert!(run(&mut card, "00B2010C00").starts_with("70"));
        assert!(run(&mut card, "00B2020C00").starts_with("70"));
        assert_eq!(run(&mut card, "00B2030C00"), "6A83");
    }

    #[test]
    fn reset_deselects_and_garbage_is_refused() {
        let mut card = card();
        run(&mut card, "00A4040008A00000033301010100");
        assert_eq!(run(&mut card, "80CA9F3600"), "CA9000");
        card.reset();
        assert_eq!(run(&mut card, "80CA9F3600"), "6985");
        assert_eq!(run(&mut card, "00A4"), "6700");
        assert_eq!(card.application_mut::<Dummy>().map(|d| d.selects), Some(1));
    }
}
