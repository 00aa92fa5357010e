//! The card side of an APDU: a parsed command and the reply an application gives.

use quickpass_kernel::values::StatusWord;

/// A command APDU as the card receives it (ISO/IEC 7816-3 cases 1–4, short form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandApdu<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (empty when there is no Lc).
    pub data: &'a [u8],
    /// Expected response length (`Some(256)` for Le `00`), when present.
    pub le: Option<usize>,
}

impl<'a> CommandApdu<'a> {
    /// Parses a short C-APDU; `None` when the bytes are not one of the four cases.
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        let &[cla, ins, p1, p2] = bytes.first_chunk::<4>()?;
        let body = &bytes[4..];
        let le_of = |b: u8| Some(if b == 0 { 256 } else { usize::from(b) });
        let (data, le) = match body {
            [] => (&body[..0], None),
            [le] => (&body[..0], le_of(*le)),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return None;
                }
                match rest.len().checked_sub(lc)? {
                    0 => (&rest[..lc], None),
                    1 => (&rest[..lc], le_of(rest[lc])),
                    _ => return None,
                }
            }
        };
        Some(CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }
}

/// What an application answers: response data and a status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Response data (without the status word).
    pub data: Vec<u8>,
    /// Status word.
    pub sw: StatusWord,
}

impl Reply {
    /// Data with `9000`.
    pub fn ok(data: impl Into<Vec<u8>>) -> Self {
        Reply {
            data: data.into(),
            sw: StatusWord::OK,
        }
    }

    /// No data, just a status word.
    pub fn status(sw: StatusWord) -> Self {
        Reply {
            data: Vec::new(),
            sw,
        }
    }

    /// The R-APDU bytes: data then SW1 SW2.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.data.len() + 2);
        bytes.extend_from_slice(&self.data);
        bytes.extend_from_slice(&self.sw.0.to_be_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_cases() {
        let case1 = CommandApdu::parse(&[0x80, 0xCA, 0x9F, 0x36]).expect("case 1");
        assert_eq!((case1.data, case1.le), (&[][..], None));
        let case2 = CommandApdu::parse(&[0x00, 0xB2, 0x01, 0x0C, 0x00]).expect("case 2");
        assert_eq!(case2.le, Some(256));
        let case3 = CommandApdu::parse(&[0x80, 0x72, 0, 0, 2, 0xAA, 0xBB]).expect("case 3");
        assert_eq!((case3.data, case3.le), (&[0xAA, 0xBB][..], None));
        let case4 = CommandApdu::parse(&[0x00, 0xA4, 4, 0, 1, 0xAA, 0x10]).expect("case 4");
        assert_eq!((case4.data, case4.le), (&[0xAA][..], Some(16)));
        assert!(CommandApdu::parse(&[0x00, 0xA4, 4]).is_none());
        assert!(CommandApdu::parse(&[0x00, 0xA4, 4, 0, 3, 0xAA]).is_none());
        assert!(CommandApdu::parse(&[0x00, 0xA4, 4, 0, 1, 0xAA, 0, 0]).is_none());
    }
}
