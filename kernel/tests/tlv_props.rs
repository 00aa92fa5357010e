//! Property tests for BER-TLV: encode → decode round trips, and no panic on any input.

use proptest::prelude::*;
use quickpass_kernel::tlv::{self, Tlv};
use quickpass_kernel::Tag;

/// A data object tree to encode.
#[derive(Debug, Clone)]
enum Node {
    Primitive(Tag, Vec<u8>),
    Constructed(Tag, Vec<Node>),
}

/// Tags of one to three bytes; bit 6 of the first byte decides primitive or constructed. A first
/// byte of `00` or `FF` is padding in ISO/IEC 7816-4 BER-TLV, so no tag starts with either.
fn tag(constructed: bool) -> impl Strategy<Value = Tag> {
    let flag = if constructed { 0x20u8 } else { 0x00 };
    prop_oneof![
        // one byte: low five bits not all set; never 00 or FF, which are padding
        (0u8..=0xFF)
            .prop_filter("not a multi-byte marker", |b| b & 0x1F != 0x1F)
            .prop_map(move |b| (b & !0x20) | flag)
            .prop_filter("not padding", |b| *b != 0x00 && *b != 0xFF)
            .prop_map(|b| Tag::new(u32::from(b))),
        // two bytes: xF/x1F then a byte with bit 8 clear
        (0u8..4, 0u8..0x80).prop_map(move |(class, second)| {
            let first = (class << 6) | 0x1F | flag;
            Tag::new((u32::from(first) << 8) | u32::from(second))
        }),
        // three bytes
        (0u8..4, 0x80u8..=0xFF, 0u8..0x80).prop_map(move |(class, second, third)| {
            let first = (class << 6) | 0x1F | flag;
            Tag::new((u32::from(first) << 16) | (u32::from(second) << 8) | u32::from(third))
        }),
    ]
    .prop_filter("not padding", |t| !matches!(t.first_byte(), 0x00 | 0xFF))
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (tag(false), proptest::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(t, v)| Node::Primitive(t, v));
    leaf.prop_recursive(4, 64, 6, |inner| {
        (tag(true), proptest::collection::vec(inner, 0..6))
            .prop_map(|(t, children)| Node::Constructed(t, children))
    })
}

fn encode(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Primitive(tag, value) => tlv::encode(*tag, value, out),
        Node::Constructed(tag, children) => {
            let mut value = Vec::new();
            for child in children {
                encode(child, &mut value);
            }
            tlv::encode(*tag, &value, out);
        }
    }
}

fn same(node: &Node, parsed: &Tlv<'_>) -> bool {
    match node {
        Node::Primitive(tag, value) => parsed.tag() == *tag && parsed.value() == value.as_slice(),
        Node::Constructed(tag, children) => {
            let parsed_children: Vec<_> = parsed.children().collect();
            parsed.tag() == *tag
                && parsed_children.len() == children.len()
                && children
                    .iter()
                    .zip(parsed_children)
                    .all(|(child, parsed)| parsed.is_ok_and(|p| same(child, &p)))
        }
    }
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_same_tree(tree in node()) {
        let mut bytes = Vec::new();
        encode(&tree, &mut bytes);
        let parsed = tlv::parse_single(&bytes).expect("what we encode parses");
        prop_assert!(same(&tree, &parsed));
        prop_assert_eq!(parsed.encoded(), bytes.as_slice());
    }

    #[test]
    fn sequences_with_padding_decode_in_order(
        trees in proptest::collection::vec(node(), 1..5),
        pads in proptest::collection::vec(prop_oneof![Just(0x00u8), Just(0xFFu8)], 0..3),
    ) {
        let mut bytes = Vec::new();
        for tree in &trees {
            bytes.extend_from_slice(&pads);
            encode(tree, &mut bytes);
        }
        let parsed = tlv::parse_sequence(&bytes).expect("valid sequence");
        prop_assert_eq!(parsed.len(), trees.len());
        for (tree, object) in trees.iter().zip(&parsed) {
            prop_assert!(same(tree, object));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(object) = tlv::parse_single(&bytes) {
            prop_assert_eq!(object.encoded().len(), bytes.len());
            let _ = object.find(Tag::new(0x9F4B));
        }
        let _ = tlv::parse_sequence(&bytes);
        for object in tlv::TlvIter::new(&bytes).flatten() {
            let _ = object.validate();
            prop_assert!(object.offset() < bytes.len());
        }
        let _ = quickpass_kernel::dump::dump(&bytes);
    }

    #[test]
    fn truncating_a_valid_object_is_always_an_error(tree in node(), cut in any::<prop::sample::Index>()) {
        let mut bytes = Vec::new();
        encode(&tree, &mut bytes);
        let cut = cut.index(bytes.len());
        prop_assert!(tlv::parse_single(&bytes[..cut]).is_err());
    }
}
