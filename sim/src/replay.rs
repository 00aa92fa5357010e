//! A card that answers from a recorded transcript (vectors README §4).
//!
//! Used by the conformance runner for `selection` and `trace` cases, and by integrators who
//! want to replay a field trace against the kernel. Matching ignores Le; SELECT exchanges open
//! a context that scopes the non-SELECT exchanges after them, so a PSE record and an application
//! record with the same READ RECORD command are told apart.

/// One recorded command and the card's response (status word included). `Debug` shows the
/// header and lengths only: a field trace holds the PAN and track 2.
#[derive(Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The C-APDU as recorded.
    pub command: Vec<u8>,
    /// The R-APDU as recorded, status word included.
    pub response: Vec<u8>,
}

impl core::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Exchange")
            .field(
                "header",
                &hex::encode_upper(self.command.get(..4).unwrap_or(&self.command)),
            )
            .field("command_len", &self.command.len())
            .field("response_len", &self.response.len())
            .finish()
    }
}

/// The response given when no recorded exchange matches: `6D00`, instruction not supported.
pub const NO_MATCH: [u8; 2] = [0x6D, 0x00];

/// A replay card built from a transcript.
#[derive(Clone)]
pub struct ReplayCard {
    exchanges: Vec<Recorded>,
    context: Option<usize>,
    commands_seen: Vec<Vec<u8>>,
}

impl core::fmt::Debug for ReplayCard {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReplayCard")
            .field("exchanges", &self.exchanges.len())
            .field("commands_seen", &self.commands_seen.len())
            .finish()
    }
}

#[derive(Clone)]
struct Recorded {
    core: Vec<u8>,
    response: Vec<u8>,
    is_select: bool,
    /// Index of the SELECT exchange whose context this one belongs to.
    context: Option<usize>,
    answered: bool,
}

impl ReplayCard {
    /// Builds the card from exchanges in recorded order.
    pub fn new(exchanges: impl IntoIterator<Item = Exchange>) -> Self {
        let mut context = None;
        let recorded = exchanges
            .into_iter()
            .enumerate()
            .map(|(index, exchange)| {
                let is_select = is_select(&exchange.command);
                if is_select {
                    context = Some(index);
                }
                Recorded {
                    core: command_core(&exchange.command).to_vec(),
                    response: exchange.response,
                    is_select,
                    context,
                    answered: false,
                }
            })
            .collect();
        ReplayCard {
            exchanges: recorded,
            context: None,
            commands_seen: Vec::new(),
        }
    }

    /// Answers one command as README §4 says.
    pub fn answer(&mut self, command: &[u8]) -> Vec<u8> {
        self.commands_seen.push(command.to_vec());
        let core = command_core(command);
        let select = is_select(command);
        let current = self.context;
        let candidates: Vec<usize> = self
            .exchanges
            .iter()
            .enumerate()
            .filter(|(_, e)| e.core == core && e.is_select == select)
            .filter(|(_, e)| select || e.context == current)
            .map(|(index, _)| index)
            .collect();
        let Some(&last) = candidates.last() else {
            return NO_MATCH.to_vec();
        };
        let chosen = candidates
            .iter()
            .copied()
            .find(|&i| !self.exchanges[i].answered)
            .unwrap_or(last);
        let exchange = &mut self.exchanges[chosen];
        exchange.answered = true;
        if select {
            self.context = Some(chosen);
        }
        exchange.response.clone()
    }

    /// Every command the card was sent, in order.
    pub fn commands_seen(&self) -> &[Vec<u8>] {
        &self.commands_seen
    }
}

impl quickpass_kernel::transport::Transport for ReplayCard {
    /// A replay card never fails: an unknown command is answered `6D00`.
    type Error = std::convert::Infallible;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, Self::Error> {
        Ok(self.answer(command))
    }
}

fn is_select(command: &[u8]) -> bool {
    command.get(1) == Some(&0xA4)
}

/// The command without its Le byte (README §4), as the kernel's APDU layer defines it.
pub fn command_core(command: &[u8]) -> &[u8] {
    quickpass_kernel::apdu::core(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(command: &str, response: &str) -> Exchange {
        Exchange {
            command: hex::decode(command).expect("hex"),
            response: hex::decode(response).expect("hex"),
        }
    }

    #[test]
    fn core_strips_only_le() {
        assert_eq!(command_core(&[0, 0xB2, 1, 0x0C, 0]), &[0, 0xB2, 1, 0x0C]);
        assert_eq!(
            command_core(&[0, 0xA4, 4, 0, 2, 1, 2, 0]),
            &[0, 0xA4, 4, 0, 2, 1, 2]
        );
        assert_eq!(
            command_core(&[0, 0xA4, 4, 0, 2, 1, 2]),
            &[0, 0xA4, 4, 0, 2, 1, 2]
        );
        assert_eq!(command_core(&[0, 0x84, 0, 0]), &[0, 0x84, 0, 0]);
    }

    #[test]
    fn select_contexts_separate_same_commands() {
        let mut card = ReplayCard::new([
            exchange("00A404000E315041592E5359532E444446303100", "6F009000"),
            exchange("00B2010C00", "70019000"),
            exchange("00A4040007A000000003101000", "6F019000"),
            exchange("00B2010C00", "70029000"),
        ]);
        assert_eq!(
            card.answer(&hex::decode("00B2010C").expect("hex")),
            NO_MATCH
        );
        card.answer(&hex::decode("00A404000E315041592E5359532E4444463031").expect("hex"));
        assert_eq!(
            card.answer(&hex::decode("00B2010C00").expect("hex")),
            [0x70, 0x01, 0x90, 0x00]
        );
        card.answer(&hex::decode("00A4040007A0000000031010").expect("hex"));
        assert_eq!(
            card.answer(&hex::decode("00B2010C00").expect("hex")),
            [0x70, 0x02, 0x90, 0x00]
        );
        assert_eq!(card.commands_seen().len(), 5);
    }

    #[test]
    fn repeated_commands_take_unanswered_first_then_the_last() {
        let mut card = ReplayCard::new([
            exchange("00A4040002AABB00", "9000"),
            exchange("80CA9F3600", "9F360200019000"),
            exchange("80CA9F3600", "9F360200029000"),
        ]);
        card.answer(&hex::decode("00A4040002AABB").expect("hex"));
        let get = hex::decode("80CA9F3600").expect("hex");
        assert_eq!(card.answer(&get)[4], 1);
        assert_eq!(card.answer(&get)[4], 2);
        assert_eq!(card.answer(&get)[4], 2);
    }
}
