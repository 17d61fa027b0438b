//! Blind indexes: normalisation, separation by workspace, purpose and key, truncation, versions.

use ward_crypto::{BlindIndex, BlindIndexer, DataKey, DekId, Error, KeyMaterial, Normalizer};

fn dek(id: u32, byte: u8) -> DataKey {
    DataKey::new(DekId(id), KeyMaterial::from_bytes(&[byte; 32]).unwrap())
}

fn indexer(purpose: &str, normalizer: Normalizer) -> BlindIndexer {
    BlindIndexer::builder(purpose)
        .with_normalizer(normalizer)
        .build(&dek(3, 1), b"workspace-1")
        .unwrap()
}

#[test]
fn normalisers_make_equal_meaning_inputs_match() {
    let email = indexer("clients.email", Normalizer::Email);
    assert_eq!(
        email.index(" Jane@Example.ORG\n"),
        email.index("jane@example.org")
    );
    assert_ne!(
        email.index("jane@example.org"),
        email.index("jane@example.com")
    );

    let phone = indexer("clients.phone", Normalizer::Phone);
    assert_eq!(phone.index("+1 (555) 010-0199"), phone.index("15550100199"));
    assert_ne!(phone.index("15550100199"), phone.index("15550100198"));

    let name = indexer("clients.last_name", Normalizer::Name);
    assert_eq!(name.index("  van   der Berg "), name.index("Van Der Berg"));

    let exact = indexer("x", Normalizer::Exact);
    assert_ne!(exact.index("Jane"), exact.index("jane"));

    fn initials(v: &str) -> String {
        v.split_whitespace()
            .filter_map(|w| w.chars().next())
            .collect()
    }
    let custom = indexer("x", Normalizer::Custom(initials));
    assert_eq!(custom.index("Jane Doe"), custom.index("J D"));
}

#[test]
fn indexes_differ_by_workspace_purpose_and_key() {
    let base = indexer("clients.email", Normalizer::Email).index("a@b.c");
    let other_ws = BlindIndexer::builder("clients.email")
        .with_normalizer(Normalizer::Email)
        .build(&dek(3, 1), b"workspace-2")
        .unwrap()
        .index("a@b.c");
    let other_purpose = indexer("users.email", Normalizer::Email).index("a@b.c");
    let other_key = BlindIndexer::builder("clients.email")
        .with_normalizer(Normalizer::Email)
        .build(&dek(4, 2), b"workspace-1")
        .unwrap()
        .index("a@b.c");
    assert_ne!(base, other_ws);
    assert_ne!(base, other_purpose);
    assert_ne!(base.as_bytes()[5..], other_key.as_bytes()[5..]);
    assert_eq!(other_key.key_id(), DekId(4));
}

#[test]
fn index_layout_is_versioned_and_truncated_as_configured() {
    let index = indexer("p", Normalizer::Exact).index("v");
    assert_eq!(index.as_bytes().len(), 1 + 4 + 16);
    assert_eq!(index.version(), 1);
    assert_eq!(index.key_id(), DekId(3));
    assert_eq!(&index.as_bytes()[..5], &[1, 0, 0, 0, 3]);

    let long = BlindIndexer::builder("p")
        .with_truncation(32)
        .build(&dek(3, 1), b"w")
        .unwrap();
    let short = BlindIndexer::builder("p")
        .with_truncation(8)
        .build(&dek(3, 1), b"w")
        .unwrap();
    let (l, s) = (long.index("v"), short.index("v"));
    assert_eq!(l.as_bytes().len(), 37);
    assert_eq!(s.as_bytes().len(), 13);
    // Truncation keeps a prefix of the same tag.
    assert_eq!(l.as_bytes()[..13], s.as_bytes()[..]);

    for bad in [0, 7, 33] {
        assert!(matches!(
            BlindIndexer::builder("p")
                .with_truncation(bad)
                .build(&dek(3, 1), b"w"),
            Err(Error::ApiMisuse(_))
        ));
    }
}

#[test]
fn stored_indexes_parse_back_and_bad_ones_are_refused() {
    let email = indexer("clients.email", Normalizer::Email);
    let stored = email.index("jane@example.org");
    let again = BlindIndex::from_bytes(stored.as_bytes().to_vec()).unwrap();
    assert!(email.matches("JANE@example.org", &again));
    assert!(!email.matches("john@example.org", &again));

    let mut newer = stored.as_bytes().to_vec();
    newer[0] = 2;
    assert!(matches!(
        BlindIndex::from_bytes(newer),
        Err(Error::UnsupportedVersion { version: 2 })
    ));
    assert!(matches!(
        BlindIndex::from_bytes(vec![1, 0, 0, 0, 3, 9]),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        BlindIndex::from_bytes(Vec::new()),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn indexer_debug_shows_no_key() {
    let shown = format!("{:?}", indexer("clients.email", Normalizer::Email));
    assert!(shown.contains("KeyMaterial(******)"), "{shown}");
    assert!(shown.contains("Email"));
}

#[test]
fn index_debug_shows_its_version_key_and_length_only() {
    let index = indexer("p", Normalizer::Exact).index("v");
    assert_eq!(
        format!("{index:?}"),
        "BlindIndex { version: 1, key_id: DekId(3), len: 21 }"
    );
}
