//! The data objects the card gave during a transaction (EMV Book 3 §10.2: a tag's first
//! occurrence counts; a duplicate of a primitive data object is an error only for the tags the
//! book names, which we handle by keeping the first).

use std::collections::HashMap;

use crate::tag::Tag;
use crate::tags;
use crate::tlv::{TlvError, TlvIter};
use crate::values::{Pan, Track2};

/// Data objects read from the card, by tag; templates are walked, not stored.
#[derive(Clone, Default)]
pub struct CardData {
    objects: HashMap<Tag, Vec<u8>>,
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
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
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

    /// Track 2 equivalent data (`57`), when present and well formed.
    pub fn track2(&self) -> Option<Track2> {
        self.get(tags::TRACK2_EQUIVALENT_DATA)
            .and_then(|v| Track2::parse(v).ok())
    }
}
