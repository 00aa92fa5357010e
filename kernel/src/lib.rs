//! The pure quickpass kernel.
#![forbid(unsafe_code)]

pub mod apdu;
pub mod bits;
pub mod dol;
pub mod dump;
pub mod selection;
pub mod tag;
pub mod tags;
pub mod tlv;
pub mod transport;
pub mod values;
