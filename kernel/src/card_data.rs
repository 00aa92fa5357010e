//! The data objects the card gave during a transaction (EMV Book 3 §10.2: a tag's first
//! occurrence counts; a duplicate of a primitive data object is an error only for the tags the
//! book names, which we handle by keeping the first).

use crate::error::{DataMismatch, Malformation};
use crate::tag::Tag;
use crate::tags;
use crate::tlv::{TlvError, TlvIter};
use crate::values::{ExpiryDate, Pan, Track2};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Data objects read from the card, by tag; templates are walked, not stored.
#[derive(Clone, Default)]
pub struct CardData {
    objects: BTreeMap<Tag, Vec<u8>>,
    order: Vec<Tag>,
}

impl core::fmt::Debug for CardData {
    /// Lists the tags only: values hold the PAN and track 2.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CardData")
            .field("tags", &self.order)
            .finish()
    }
}

impl CardData {
    /// No data yet.
    pub fn new() -> Self {
        CardData::default()
    }

    /// Stores every primitive object of `objects`, walking templates; first occurrence wins.
    pub fn absorb(&mut self, objects: TlvIter<'_>) -> Result<(), TlvError> {
        for object in objects {
            let object = object?;
            if object.is_constructed() {
                self.absorb(object.children())?;
            } else {
                self.insert(object.tag(), object.value());
            }
        }
        Ok(())
    }

    /// Stores one value unless the tag is already present; returns whether it was stored.
    pub fn insert(&mut self, tag: Tag, value: &[u8]) -> bool {
        match self.objects.entry(tag) {
            alloc::collections::btree_map::Entry::Occupied(_) => false,
            alloc::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value.to_vec());
                self.order.push(tag);
                true
            }
        }
    }

    /// The value of `tag`, if the card gave it.
    pub fn get(&self, tag: Tag) -> Option<&[u8]> {
        self.objects.get(&tag).map(Vec::as_slice)
    }

    /// True when the card gave `tag`.
    pub fn contains(&self, tag: Tag) -> bool {
        self.objects.contains_key(&tag)
    }

    /// Tags in the order the card gave them.
    pub fn tags(&self) -> &[Tag] {
        &self.order
    }

    /// The application PAN (`5A`), or the PAN inside track 2 (`57`) when `5A` is absent.
    pub fn pan(&self) -> Option<Pan> {
        if let Some(pan) = self.get(tags::PAN).and_then(|v| Pan::from_bcd(v).ok()) {
            return Some(pan);
        }
        self.track2().map(|t| t.pan().clone())
    }

    /// Cross-checks the card's copies of the PAN and expiry (issue 15 item 5), after the
    /// records are read and before anything is decided:
    ///
    /// - a present `5A` must be a valid PAN, a present `57` valid track 2 equivalent data, a
    ///   present `5F34` one BCD byte (n2);
    /// - the PAN in `57` (digits before `D`) must equal `5A` (digits before the `F` padding),
    ///   and its YYMM the first four digits of `5F24`;
    /// - the same for `9F6B` **when it holds track 2 data** (Mastercard Book C-2, MSD style): in
    ///   PBOC `9F6B` is the Card CVM Limit, an n12 amount with no `D` separator, left alone.
    ///
    /// A failure is the card's data being unusable ([`Malformation`]): the flows end the
    /// transaction on it, neither approving nor sending the inconsistent data online.
    pub fn check_consistency(&self) -> Result<(), Malformation> {
        let pan = match self.get(tags::PAN) {
            Some(value) => {
                Some(Pan::from_bcd(value).map_err(|_| Malformation::InvalidValue(tags::PAN))?)
            }
            None => None,
        };
        if let Some(value) = self.get(tags::PAN_SEQUENCE_NUMBER) {
            match value {
                [byte] if byte >> 4 <= 9 && byte & 0x0F <= 9 => {}
                [_] => return Err(Malformation::InvalidValue(tags::PAN_SEQUENCE_NUMBER)),
                _ => {
                    return Err(Malformation::BadLength {
                        tag: tags::PAN_SEQUENCE_NUMBER,
                        len: value.len(),
                    })
                }
            }
        }
        for tag in [tags::TRACK2_EQUIVALENT_DATA, tags::CARD_CVM_LIMIT] {
            let Some(value) = self.get(tag) else {
                continue;
            };
            let track = match Track2::parse(value) {
                Ok(track) => track,
                // PBOC's 9F6B is the Card CVM Limit, not track 2 data.
                Err(_) if tag == tags::CARD_CVM_LIMIT => continue,
                Err(_) => return Err(Malformation::InvalidValue(tag)),
            };
            if let Some(pan) = &pan {
                if track.pan().expose_digits() != pan.expose_digits() {
                    return Err(Malformation::Inconsistent(DataMismatch::Track2Pan {
                        track: tag,
                    }));
                }
            }
            if let Some(expiry) = self.get(tags::APPLICATION_EXPIRATION_DATE) {
                if application_expiry(expiry)? != track.expiry() {
                    return Err(Malformation::Inconsistent(DataMismatch::Track2Expiry {
                        track: tag,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Track 2 equivalent data (`57`), when present and well formed.
    pub fn track2(&self) -> Option<Track2> {
        self.get(tags::TRACK2_EQUIVALENT_DATA)
            .and_then(|v| Track2::parse(v).ok())
    }
}

/// The YYMM of `5F24` (n6 YYMMDD) as an expiry month.
fn application_expiry(value: &[u8]) -> Result<ExpiryDate, Malformation> {
    let invalid = || Malformation::InvalidValue(tags::APPLICATION_EXPIRATION_DATE);
    let [yy, mm, ..] = value else {
        return Err(Malformation::BadLength {
            tag: tags::APPLICATION_EXPIRATION_DATE,
            len: value.len(),
        });
    };
    let bcd = |b: u8| (b >> 4 <= 9 && b & 0x0F <= 9).then(|| (b >> 4) * 10 + (b & 0x0F));
    let (yy, mm) = (bcd(*yy).ok_or_else(invalid)?, bcd(*mm).ok_or_else(invalid)?);
    ExpiryDate::from_yymm(yy, mm).map_err(|_| invalid())
}

#[cfg(test)]
mod consistency_tests {
    use super::*;

    const PAN: &str = "6228480012345671";

    fn card(objects: &[(Tag, &str)]) -> CardData {
        let mut card = CardData::new();
        for (tag, value) in objects {
            card.insert(*tag, &hex::decode(value).expect("hex"));
        }
        card
    }

    fn track2(pan: &str, yymm: &str) -> String {
        let mut nibbles = format!("{pan}D{yymm}2200000000000");
        if nibbles.len() % 2 == 1 {
            nibbles.push('F');
        }
        nibbles
    }

    #[test]
    fn pan_and_expiry_copies_must_agree() {
        let good = [
            (tags::PAN, "6228480012345671"),
            (tags::APPLICATION_EXPIRATION_DATE, "301231"),
            (tags::PAN_SEQUENCE_NUMBER, "01"),
        ];
        let mut objects = good.to_vec();
        let t2 = track2(PAN, "3012");
        objects.push((tags::TRACK2_EQUIVALENT_DATA, &t2));
        assert_eq!(card(&objects).check_consistency(), Ok(()));

        // 5A with F padding (odd PAN length) against the same PAN in 57.
        let odd = "622848001234567";
        let t2_odd = track2(odd, "3012");
        let padded = card(&[
            (tags::PAN, "622848001234567F"),
            (tags::TRACK2_EQUIVALENT_DATA, &t2_odd),
        ]);
        assert_eq!(padded.check_consistency(), Ok(()));

        let other_pan = track2("6228480012345672", "3012");
        let mut objects = good.to_vec();
        objects.push((tags::TRACK2_EQUIVALENT_DATA, &other_pan));
        let error = card(&objects).check_consistency().unwrap_err();
        assert_eq!(
            error,
            Malformation::Inconsistent(DataMismatch::Track2Pan {
                track: tags::TRACK2_EQUIVALENT_DATA
            })
        );
        let text = core::error::Error::source(&error)
            .map(ToString::to_string)
            .expect("cause");
        assert!(text.contains("track 2 PAN mismatch"), "{text}");
        assert!(!text.contains(PAN) && !text.contains("6228480012345672"));

        let other_expiry = track2(PAN, "3112");
        let mut objects = good.to_vec();
        objects.push((tags::TRACK2_EQUIVALENT_DATA, &other_expiry));
        assert_eq!(
            card(&objects).check_consistency(),
            Err(Malformation::Inconsistent(DataMismatch::Track2Expiry {
                track: tags::TRACK2_EQUIVALENT_DATA
            }))
        );
    }

    #[test]
    fn nine_f_six_b_is_checked_only_when_it_holds_track_2() {
        // PBOC: 9F6B is the Card CVM Limit (n12), left alone.
        let limit = card(&[(tags::PAN, PAN), (tags::CARD_CVM_LIMIT, "000000050000")]);
        assert_eq!(limit.check_consistency(), Ok(()));
        // Mastercard-style track 2 in 9F6B with another PAN.
        let other = track2("6228480012345672", "3012");
        let msd = card(&[(tags::PAN, PAN), (tags::CARD_CVM_LIMIT, &other)]);
        assert_eq!(
            msd.check_consistency(),
            Err(Malformation::Inconsistent(DataMismatch::Track2Pan {
                track: tags::CARD_CVM_LIMIT
            }))
        );
        let same = track2(PAN, "3012");
        let msd = card(&[(tags::PAN, PAN), (tags::CARD_CVM_LIMIT, &same)]);
        assert_eq!(msd.check_consistency(), Ok(()));
    }

    #[test]
    fn malformed_copies_are_refused_not_skipped() {
        let t2 = track2(PAN, "3012");
        let cases: [(&[(Tag, &str)], Malformation); 5] = [
            (
                &[
                    (tags::PAN, "62284800123456AB"),
                    (tags::TRACK2_EQUIVALENT_DATA, &t2),
                ],
                Malformation::InvalidValue(tags::PAN),
            ),
            (
                &[
                    (tags::PAN, PAN),
                    (tags::TRACK2_EQUIVALENT_DATA, "6228480012345671"),
                ],
                Malformation::InvalidValue(tags::TRACK2_EQUIVALENT_DATA),
            ),
            (
                &[(tags::PAN_SEQUENCE_NUMBER, "0A")],
                Malformation::InvalidValue(tags::PAN_SEQUENCE_NUMBER),
            ),
            (
                &[(tags::PAN_SEQUENCE_NUMBER, "0101")],
                Malformation::BadLength {
                    tag: tags::PAN_SEQUENCE_NUMBER,
                    len: 2,
                },
            ),
            (
                &[
                    (tags::APPLICATION_EXPIRATION_DATE, "3A1231"),
                    (tags::TRACK2_EQUIVALENT_DATA, &t2),
                ],
                Malformation::InvalidValue(tags::APPLICATION_EXPIRATION_DATE),
            ),
        ];
        for (objects, expected) in cases {
            assert_eq!(card(objects).check_consistency(), Err(expected));
        }
        // Nothing to compare: no error.
        assert_eq!(CardData::new().check_consistency(), Ok(()));
    }
}
