//! BER-TLV (EMV Book 3 Annex B): `parse_sequence`, `parse_single`, the iterator, `find` and the
//! human-readable dump never panic, and parse → encode → parse gives the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quickpass::kernel::tlv::{self, Tlv, TlvIter};
use quickpass::kernel::Tag;
use quickpass::kernel::{dump, tags};

/// A parsed object with its children resolved, for comparing two parses.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Primitive(Tag, Vec<u8>),
    Constructed(Tag, Vec<Node>),
}

fn node(object: &Tlv<'_>) -> Node {
    if object.is_constructed() {
        let children = object
            .children()
            .map(|c| node(&c.expect("validated template")))
            .collect();
        Node::Constructed(object.tag(), children)
    } else {
        Node::Primitive(object.tag(), object.value().to_vec())
    }
}

/// Canonical encoding: minimal lengths, no padding.
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

fuzz_target!(|data: &[u8]| {
    let _ = dump::dump(data);
    // The lenient iterator and the search the flows use on every response.
    for object in TlvIter::new(data) {
        let Ok(object) = object else { break };
        assert!(object.encoded().len() >= object.value().len());
        assert_eq!(
            &data[object.offset()..][..object.encoded().len()],
            object.encoded()
        );
        let _ = object.find(tags::PDOL);
        let _ = object.validate();
    }

    if let Ok(objects) = tlv::parse_sequence(data) {
        let tree: Vec<Node> = objects.iter().map(node).collect();
        let mut canonical = Vec::new();
        for n in &tree {
            encode(n, &mut canonical);
        }
        let again = tlv::parse_sequence(&canonical).expect("canonical encoding parses");
        let again_tree: Vec<Node> = again.iter().map(node).collect();
        assert_eq!(
            tree, again_tree,
            "parse → encode → parse changed the objects"
        );
        let mut twice = Vec::new();
        for n in &again_tree {
            encode(n, &mut twice);
        }
        assert_eq!(canonical, twice, "canonical encoding is not a fixed point");
    }

    if let Ok(single) = tlv::parse_single(data) {
        assert_eq!(
            single.encoded(),
            data,
            "parse_single must consume everything"
        );
        let mut canonical = Vec::new();
        encode(&node(&single), &mut canonical);
        let again = tlv::parse_single(&canonical).expect("canonical single object parses");
        assert_eq!(node(&single), node(&again));
    }
});
