use super::*;

/// The block `crates/aqueduct/tests/server_behaviour.rs` used to build
/// by hand: the default request is byte for byte the same.
fn hand_built(path: &str) -> Vec<u8> {
    let string = |out: &mut Vec<u8>, s: &str| {
        out.push(s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    };
    let mut block = vec![0x83, 0x86, 0x04];
    string(&mut block, path);
    block.push(0x01);
    string(&mut block, "localhost");
    block.extend_from_slice(&[0x0f, 0x10]);
    string(&mut block, "application/grpc");
    block.push(0x00);
    string(&mut block, "te");
    string(&mut block, "trailers");
    block
}

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

fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let owned = fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()));
    owned.collect()
}

#[test]
fn the_default_request_is_the_hand_built_one() {
    let path = "/test.v1.Probe/Echo";
    assert_eq!(request(path).block().as_bytes(), hand_built(path));
    assert_eq!(
        decode(&request(path).into()),
        pairs(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ])
    );
}

#[test]
fn fields_change_and_add() {
    let head = request("/a/B")
        .method("PUT")
        .scheme("https")
        .without_authority()
        .content_type("application/json")
        .without_te()
        .field("grpc-timeout", "1S")
        .field("x-a", "1")
        .field("x-a", "2");
    assert_eq!(
        decode(&(&head).into()),
        pairs(&[
            (":method", "PUT"),
            (":scheme", "https"),
            (":path", "/a/B"),
            ("content-type", "application/json"),
            ("grpc-timeout", "1S"),
            ("x-a", "1"),
            ("x-a", "2"),
        ])
    );
    let get = request("/")
        .method("GET")
        .scheme("ftp")
        .without_content_type();
    assert_eq!(
        decode(&get.authority("h").into()),
        pairs(&[
            (":method", "GET"),
            (":scheme", "ftp"),
            (":path", "/"),
            (":authority", "h"),
            ("te", "trailers"),
        ])
    );
}

#[test]
fn messages_are_length_prefixed() {
    let hi = "hi".to_owned();
    // Field 1, length 2, "hi".
    assert_eq!(&message(&hi)[..], [0, 0, 0, 0, 4, 0x0a, 2, b'h', b'i']);
    assert_eq!(
        &length_prefixed(true, b"zz")[..],
        [1, 0, 0, 0, 2, b'z', b'z']
    );
    assert_eq!(prefix(false, 4 * 1024 * 1024 + 1), [0, 0, 0x40, 0, 1]);
}
