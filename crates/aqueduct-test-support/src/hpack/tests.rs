use super::*;

/// Decodes `block` with a real HPACK decoder (the one the hand-off crate
/// uses), as (name, value) strings.
fn decode(block: &HeaderBlock) -> Vec<(String, String)> {
    let fields = loona_hpack::Decoder::new()
        .decode(block.as_bytes())
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    fields
        .into_iter()
        .map(|(n, v)| (text(n), text(v)))
        .collect()
}

/// RFC 7541, C.1.1-C.1.3: 10 and 1337 with a 5-bit prefix, 42 with 8 bits.
#[test]
fn integers_are_encoded_as_rfc_7541_appendix_c_1() {
    let mut out = Vec::new();
    integer(&mut out, 0, 5, 10);
    assert_eq!(out, [0x0a]);
    out.clear();
    integer(&mut out, 0, 5, 1337);
    assert_eq!(out, [0x1f, 0x9a, 0x0a]);
    // An 8-bit prefix is a whole byte; the table size update's 5 bits give
    // the same continuation bytes as C.1.2.
    assert_eq!(
        HeaderBlock::new().table_size_update(1337).as_bytes(),
        [0x3f, 0x9a, 0x0a]
    );
    // A value one short of the prefix's maximum fits it; the maximum does not.
    assert_eq!(HeaderBlock::new().indexed(126).as_bytes(), [0xfe]);
    assert_eq!(HeaderBlock::new().indexed(127).as_bytes(), [0xff, 0x00]);
    assert_eq!(HeaderBlock::new().indexed(128).as_bytes(), [0xff, 0x01]);
}

/// RFC 7541, C.2.1: literal with indexing, new name.
#[test]
fn literal_with_indexing_is_rfc_7541_c_2_1() {
    let block = HeaderBlock::new().literal_with_indexing("custom-key", "custom-header");
    let mut expected = vec![0x40, 0x0a];
    expected.extend_from_slice(b"custom-key");
    expected.push(0x0d);
    expected.extend_from_slice(b"custom-header");
    assert_eq!(block.as_bytes(), expected);
    assert_eq!(
        decode(&block),
        [("custom-key".into(), "custom-header".into())]
    );
}

/// RFC 7541, C.2.2: literal without indexing, indexed name.
#[test]
fn literal_without_indexing_is_rfc_7541_c_2_2() {
    let block = HeaderBlock::new().literal_name_indexed(index::PATH, "/sample/path");
    let mut expected = vec![0x04, 0x0c];
    expected.extend_from_slice(b"/sample/path");
    assert_eq!(block.as_bytes(), expected);
    assert_eq!(decode(&block), [(":path".into(), "/sample/path".into())]);
}

/// RFC 7541, C.2.3: literal never indexed, new name.
#[test]
fn never_indexed_is_rfc_7541_c_2_3() {
    let block = HeaderBlock::new().never_indexed("password", "secret");
    let mut expected = vec![0x10, 0x08];
    expected.extend_from_slice(b"password");
    expected.push(0x06);
    expected.extend_from_slice(b"secret");
    assert_eq!(block.as_bytes(), expected);
    assert_eq!(decode(&block), [("password".into(), "secret".into())]);
}

/// RFC 7541, C.2.4: indexed field.
#[test]
fn indexed_is_rfc_7541_c_2_4() {
    let block = HeaderBlock::new().indexed(index::METHOD_GET);
    assert_eq!(block.as_bytes(), [0x82]);
    assert_eq!(decode(&block), [(":method".into(), "GET".into())]);
}

#[test]
fn every_representation_decodes_in_order() {
    let long = "v".repeat(300);
    let block = HeaderBlock::new()
        .table_size_update(0)
        .indexed(index::METHOD_POST)
        .indexed(index::SCHEME_HTTPS)
        .literal_name_indexed(index::PATH, "/a/b")
        .literal_name_indexed(index::AUTHORITY, "example.test")
        .literal_name_indexed(index::CONTENT_TYPE, "application/grpc")
        .literal_name_indexed(index::USER_AGENT, "probe/1")
        .literal("x-long", &long)
        .never_indexed("x-secret", "s");
    let fields = decode(&block);
    let expected: Vec<(String, String)> = [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/a/b"),
        (":authority", "example.test"),
        ("content-type", "application/grpc"),
        ("user-agent", "probe/1"),
        ("x-long", long.as_str()),
        ("x-secret", "s"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(fields, expected);
}

#[test]
fn raw_bytes_are_kept_as_they_are() {
    // An index past both tables: a decoder must refuse it.
    let block = HeaderBlock::new()
        .indexed(index::METHOD_GET)
        .raw([0xff, 0x7f]);
    assert_eq!(block.as_bytes(), [0x82, 0xff, 0x7f]);
    assert!(
        loona_hpack::Decoder::new()
            .decode(block.as_bytes())
            .is_err()
    );
    assert_eq!(HeaderBlock::from(vec![1, 2]).as_bytes(), [1, 2]);
    assert_eq!(HeaderBlock::from(&[3u8][..]).into_bytes(), vec![3]);
}
