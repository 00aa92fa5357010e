//! Data object lists (EMV Book 3 §5.4): `Dol::parse` round-trips byte for byte, `build` gives
//! exactly `total_length` bytes whatever the values and formats, and `split` takes the built
//! data apart into entries of the DOL's lengths.
//!
//! Input: `k` (1 byte) ‖ DOL (`k` bytes) ‖ value stream (each value: a length byte, then bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::dol::{Dol, DolValues};
use quickpass::kernel::Format;

const FORMATS: [Format; 8] = [
    Format::N,
    Format::Cn,
    Format::B,
    Format::A,
    Format::An,
    Format::Ans,
    Format::Template,
    Format::Var,
];

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let (dol_bytes, mut stream) = rest.split_at(usize::from(k).min(rest.len()));
    let Ok(dol) = Dol::parse(dol_bytes) else {
        return;
    };
    assert_eq!(
        dol.to_bytes(),
        dol_bytes,
        "DOL does not re-encode to its bytes"
    );
    assert_eq!(Dol::parse(&dol.to_bytes()).as_ref(), Ok(&dol));

    // Values for the entries, of any length and format, from the rest of the input.
    let mut values = DolValues::new();
    for (i, entry) in dol.entries().iter().enumerate() {
        let Some((&len, tail)) = stream.split_first() else {
            break;
        };
        let (value, tail) = tail.split_at(usize::from(len).min(tail.len()));
        values.insert(
            entry.tag,
            FORMATS[(len as usize + i) % FORMATS.len()],
            value.to_vec(),
        );
        stream = tail;
    }
    let built = dol.build(&values);
    assert_eq!(
        built.len(),
        dol.total_length(),
        "DOL data of the wrong length"
    );
    let parts = dol.split(&built).expect("built data splits");
    assert_eq!(parts.len(), dol.entries().len());
    for ((tag, value), entry) in parts.iter().zip(dol.entries()) {
        assert_eq!(*tag, entry.tag);
        assert_eq!(value.len(), entry.length);
    }
    // What is left of the input as a card's log record (pboc-notes §2.10).
    if let Ok(parts) = dol.split(stream) {
        assert_eq!(
            parts.iter().map(|(_, v)| v.len()).sum::<usize>(),
            stream.len()
        );
    }
});
