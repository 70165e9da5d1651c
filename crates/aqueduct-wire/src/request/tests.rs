use super::*;
use crate::metadata;
use crate::test_rng::Rng;

/// A well-formed head plus `extra`, parsed.
fn parse(extra: &[(&[u8], &[u8])]) -> Result<RequestHead, RequestError> {
    let mut parser = RequestParser::new();
    parser.field(b":method", b"POST");
    parser.field(b":path", b"/a.B/C");
    parser.field(b"content-type", b"application/grpc");
    for (name, value) in extra {
        parser.field(name, value);
    }
    parser.finish()
}

fn error(extra: &[(&[u8], &[u8])]) -> RequestError {
    parse(extra).unwrap_err()
}

#[test]
fn a_plain_request_passes() {
    let head = parse(&[]).unwrap();
    assert_eq!(head.timeout(), Ok(None));
    assert_eq!(head.encoding(), Ok(None));
    assert!(!head.te_trailers());
    assert!(head.accept_encodings().contains(Encoding::Identity));
    assert!(!head.accept_encodings().contains(Encoding::Gzip));
}

#[test]
fn fields_are_classified() {
    let mut parser = RequestParser::new();
    assert_eq!(parser.field(b":method", b"POST"), Field::Pseudo);
    assert_eq!(parser.field(b":path", b"/a.B/C"), Field::Pseudo);
    assert_eq!(parser.field(b":authority", b"x"), Field::Pseudo);
    assert_eq!(parser.field(b"te", b"trailers"), Field::Protocol);
    assert_eq!(parser.field(b"user-agent", b"grpc-go/1"), Field::Protocol);
    assert_eq!(parser.field(b"grpc-timeout", b"1S"), Field::Protocol);
    assert_eq!(
        parser.field(b"grpc-previous-rpc-attempts", b"1"),
        Field::Protocol
    );
    assert_eq!(parser.field(b"x-id", b"1"), Field::Metadata);
    assert_eq!(parser.field(b"x-bin", b"AQI"), Field::Metadata);
}

#[test]
fn method_must_be_post() {
    let mut parser = RequestParser::new();
    parser.field(b":method", b"GET");
    parser.field(b"content-type", b"application/grpc");
    let e = parser.finish().unwrap_err();
    assert_eq!(e.kind(), RequestErrorKind::Method);
    assert_eq!(e.code(), Code::Unimplemented);
    assert_eq!(e.http_status(), Some(405));
    assert_eq!(e.message(), "gRPC requires POST, got GET");
    assert_eq!(e.to_string(), "UNIMPLEMENTED: gRPC requires POST, got GET");
    assert!(!e.advertise_accept_encoding());

    let mut parser = RequestParser::new();
    parser.field(b"content-type", b"application/grpc");
    let e = parser.finish().unwrap_err();
    assert_eq!(e.message(), "gRPC requires POST, got no :method");
    assert_eq!(e.http_status(), Some(405));

    // Methods are case-sensitive.
    let mut parser = RequestParser::new();
    parser.field(b":method", b"post");
    assert_eq!(
        parser.finish().unwrap_err().kind(),
        RequestErrorKind::Method
    );
}

#[test]
fn content_type_must_be_grpc_proto() {
    for ok in [
        &b"application/grpc"[..],
        b"application/grpc+proto",
        b"application/grpc;charset=utf-8",
    ] {
        parse(&[(b"content-type", ok)]).unwrap();
    }
    for (bad, message) in [
        (&b"application/grpc+json"[..], r#""application/grpc+json""#),
        (b"application/json", r#""application/json""#),
        (b"", r#""""#),
        (b"a\"b\\", r#""a\"b\\""#),
        (b"\xff", "\"\u{fffd}\""),
    ] {
        let e = error(&[(b"content-type", bad)]);
        assert_eq!(e.kind(), RequestErrorKind::ContentType);
        assert_eq!(e.code(), Code::Internal);
        assert_eq!(e.http_status(), Some(415));
        assert_eq!(
            e.message(),
            format!("invalid gRPC request content-type {message}")
        );
    }
    let mut parser = RequestParser::new();
    parser.field(b":method", b"POST");
    let e = parser.finish().unwrap_err();
    assert_eq!(e.message(), r#"invalid gRPC request content-type """#);
}

#[test]
fn binary_metadata_must_be_base64() {
    let e = error(&[(b"x-ok-bin", b"AQI"), (b"trace-bin", b"AQI,A!")]);
    assert_eq!(e.kind(), RequestErrorKind::BinaryMetadata);
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(e.http_status(), None);
    assert_eq!(
        e.message(),
        "malformed binary metadata \"trace-bin\": binary metadata value is not valid \
         base64 (standard alphabet, padded or not)"
    );
    // The first bad one is named.
    let e = error(&[(b"a-bin", b"!"), (b"b-bin", b"!")]);
    assert!(e.message().contains("\"a-bin\""), "{e}");
    // ASCII keys and the protocol's own -bin keys are not checked.
    parse(&[
        (b"x-ascii", b"not base64!"),
        (b"grpc-status-details-bin", b"!"),
        (b"x-bin", b"AQI=, AQID"),
    ])
    .unwrap();
}

#[test]
fn checks_run_in_order() {
    let mut parser = RequestParser::new();
    parser.field(b"x-bin", b"!");
    parser.field(b"content-type", b"text/plain");
    parser.field(b":method", b"PUT");
    assert_eq!(
        parser.finish().unwrap_err().kind(),
        RequestErrorKind::Method
    );
    let e = error(&[(b"x-bin", b"!"), (b"content-type", b"text/plain")]);
    assert_eq!(e.kind(), RequestErrorKind::ContentType);
    let e = error(&[
        (b"grpc-timeout", b"x"),
        (b"grpc-encoding", b"br"),
        (b"x-bin", b"!"),
    ]);
    assert_eq!(e.kind(), RequestErrorKind::BinaryMetadata);
    // Timeout and encoding are the caller's to check after routing.
    let head = parse(&[(b"grpc-timeout", b"x"), (b"grpc-encoding", b"br")]).unwrap();
    assert_eq!(
        head.timeout().unwrap_err().kind(),
        RequestErrorKind::Timeout
    );
    assert_eq!(
        head.encoding().unwrap_err().kind(),
        RequestErrorKind::Encoding
    );
}

#[test]
fn timeouts() {
    let head = parse(&[(b"grpc-timeout", b"2S")]).unwrap();
    assert_eq!(head.timeout(), Ok(Some(Duration::from_secs(2))));
    for (bad, why) in [
        (&b""[..], "grpc-timeout is empty"),
        (b"S", "grpc-timeout value must be 1 to 8 ASCII digits"),
        (
            b"123456789S",
            "grpc-timeout value must be 1 to 8 ASCII digits",
        ),
        (b"1s", "grpc-timeout unit must be one of H, M, S, m, u, n"),
    ] {
        let e = parse(&[(b"grpc-timeout", bad)])
            .unwrap()
            .timeout()
            .unwrap_err();
        assert_eq!(e.code(), Code::Internal);
        assert_eq!(e.http_status(), None);
        assert_eq!(e.message(), format!("malformed grpc-timeout: {why}"));
    }
}

#[test]
fn encodings() {
    let encoding = |value: &[u8]| parse(&[(b"grpc-encoding", value)]).unwrap().encoding();
    assert_eq!(encoding(b"identity"), Ok(None));
    assert_eq!(encoding(b"gzip"), Ok(Some(Encoding::Gzip)));
    assert_eq!(encoding(b"GZIP"), Ok(Some(Encoding::Gzip)));
    assert_eq!(encoding(b" deflate "), Ok(Some(Encoding::Deflate)));
    let e = encoding(b"snappy").unwrap_err();
    assert_eq!(e.kind(), RequestErrorKind::Encoding);
    assert_eq!(e.code(), Code::Unimplemented);
    assert_eq!(e.http_status(), None);
    assert!(e.advertise_accept_encoding());
    assert_eq!(
        e.message(),
        "grpc: decompressor is not installed for grpc-encoding \"snappy\""
    );
    let e = encoding(b"").unwrap_err();
    assert!(e.message().ends_with("grpc-encoding \"\""), "{e}");
}

#[test]
fn accept_encoding_and_te() {
    let head = parse(&[(b"grpc-accept-encoding", b"gzip, br"), (b"te", b"trailers")]).unwrap();
    assert!(head.accept_encodings().contains(Encoding::Gzip));
    assert!(!head.accept_encodings().contains(Encoding::Deflate));
    assert!(head.te_trailers());
    // te is informational: any value, or none, is served.
    assert!(!parse(&[(b"te", b"gzip")]).unwrap().te_trailers());
}

#[test]
fn the_last_of_repeated_fields_counts() {
    let head = parse(&[
        (b"content-type", b"text/plain"),
        (b"content-type", b"application/grpc+proto"),
        (b"grpc-timeout", b"x"),
        (b"grpc-timeout", b"3S"),
        (b"grpc-encoding", b"gzip"),
        (b"grpc-encoding", b"br"),
        (b"grpc-accept-encoding", b"gzip"),
        (b"grpc-accept-encoding", b"deflate"),
    ])
    .unwrap();
    assert_eq!(head.timeout(), Ok(Some(Duration::from_secs(3))));
    assert!(head.encoding().is_err());
    assert!(head.accept_encodings().contains(Encoding::Deflate));
    assert!(!head.accept_encodings().contains(Encoding::Gzip));
    let e = error(&[(b"content-type", b"text/plain")]);
    assert_eq!(e.kind(), RequestErrorKind::ContentType);
    let mut parser = RequestParser::new();
    parser.field(b":method", b"GET");
    parser.field(b":method", b"POST");
    parser.field(b"content-type", b"application/grpc");
    parser.finish().unwrap();
}

/// What today's server (`start_call` in the runtime) answers, written the way
/// it is written there: one pass over the fields, then the checks.
#[derive(Debug, PartialEq)]
enum Answer {
    Error {
        code: Code,
        message: String,
        http: Option<u16>,
        advertise: bool,
    },
    Call {
        timeout: Option<Duration>,
        encoding: Option<Encoding>,
        accept: AcceptEncodings,
    },
}

fn reference(method: &[u8], fields: &[(Vec<u8>, Vec<u8>)]) -> Answer {
    let mut content_type: &[u8] = b"";
    let mut timeout = None;
    let mut encoding_header = None;
    let mut accept = AcceptEncodings::default();
    let mut bad_metadata = None;
    for (name, value) in fields {
        match &name[..] {
            b"content-type" => content_type = value,
            b"grpc-timeout" => timeout = Some(value),
            b"grpc-encoding" => encoding_header = Some(value),
            b"grpc-accept-encoding" => accept = AcceptEncodings::parse(value),
            _ if bad_metadata.is_none() => {
                let key = String::from_utf8_lossy(name);
                let user = !metadata::is_reserved(&key) && key != "user-agent";
                if metadata::is_binary_key(&key) && user {
                    bad_metadata = metadata::validate_binary(value).err().map(|e| {
                        format!(
                            "malformed binary metadata {key:?}: {e} (standard alphabet, padded or not)"
                        )
                    });
                }
            }
            _ => {}
        }
    }
    let error = |code, message, http, advertise| Answer::Error {
        code,
        message,
        http,
        advertise,
    };
    if method != b"POST" {
        let message = format!(
            "gRPC requires POST, got {}",
            String::from_utf8_lossy(method)
        );
        return error(Code::Unimplemented, message, Some(405), false);
    }
    let accepted = crate::headers::is_grpc_content_type(content_type)
        && matches!(
            content_type.split(|&b| b == b';').next(),
            Some(b"application/grpc" | b"application/grpc+proto")
        );
    if !accepted {
        let message = format!(
            "invalid gRPC request content-type {:?}",
            String::from_utf8_lossy(content_type)
        );
        return error(Code::Internal, message, Some(415), false);
    }
    if let Some(message) = bad_metadata {
        return error(Code::Internal, message, None, false);
    }
    let timeout = match timeout {
        None => None,
        Some(v) => match crate::timeout::parse(v) {
            Ok(t) => Some(t),
            Err(e) => {
                let message = format!("malformed grpc-timeout: {e}");
                return error(Code::Internal, message, None, false);
            }
        },
    };
    let encoding = match encoding_header {
        None => None,
        Some(v) => match Encoding::from_name(v) {
            Some(Encoding::Identity) => None,
            Some(e) => Some(e),
            None => {
                let message = format!(
                    "grpc: decompressor is not installed for grpc-encoding {:?}",
                    String::from_utf8_lossy(v)
                );
                return error(Code::Unimplemented, message, None, true);
            }
        },
    };
    Answer::Call {
        timeout,
        encoding,
        accept,
    }
}

fn answer(method: &[u8], fields: &[(Vec<u8>, Vec<u8>)]) -> Answer {
    let mut parser = RequestParser::new();
    parser.field(b":method", method);
    for (name, value) in fields {
        parser.field(name, value);
    }
    let checked = parser.finish().and_then(|head| {
        Ok(Answer::Call {
            timeout: head.timeout()?,
            encoding: head.encoding()?,
            accept: head.accept_encodings(),
        })
    });
    checked.unwrap_or_else(|e| Answer::Error {
        code: e.code(),
        http: e.http_status(),
        advertise: e.advertise_accept_encoding(),
        message: e.into_message(),
    })
}

const NAMES: &[&str] = &[
    "content-type",
    "te",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "user-agent",
    "user-agent-bin",
    "grpc-status-details-bin",
    "grpc-x-bin",
    "x-bin",
    "trace-bin",
    "x-id",
    ":path",
    ":authority",
    "-bin",
];

const VALUES: &[&str] = &[
    "application/grpc",
    "application/grpc+proto",
    "application/grpc;a=b",
    "application/grpc+json",
    "1S",
    "100m",
    "123456789n",
    "gzip",
    "identity",
    "br",
    "gzip,deflate",
    "AQI",
    "AQI=,AQID",
    "A",
    "trailers",
    "",
];

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(10);
    (0..len)
        .map(|_| rng.byte_from(b"abc-/+;:=AQI019SmH,\" "))
        .collect()
}

fn random_field(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let name = match rng.below(8) {
        0 => random_bytes(rng),
        _ => NAMES[rng.below(NAMES.len())].as_bytes().to_vec(),
    };
    let value = match rng.below(4) {
        0 => random_bytes(rng),
        _ => VALUES[rng.below(VALUES.len())].as_bytes().to_vec(),
    };
    (name, value)
}

#[test]
fn random_heads_are_answered_as_today() {
    let mut rng = Rng::new(0x4ead);
    let mut calls = 0;
    for _ in 0..30_000 {
        let method: &[u8] = match rng.below(8) {
            0 => b"GET",
            1 => b"post",
            _ => b"POST",
        };
        let mut fields = vec![(b"content-type".to_vec(), b"application/grpc".to_vec())];
        if rng.below(4) == 0 {
            fields.clear();
        }
        let n = rng.below(6);
        fields.extend((0..n).map(|_| random_field(&mut rng)));
        let want = reference(method, &fields);
        assert_eq!(answer(method, &fields), want, "{method:?} {fields:?}");
        calls += usize::from(matches!(want, Answer::Call { .. }));
    }
    // Both outcomes come up often enough to mean something.
    assert!(calls > 3_000, "{calls}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0xb17e5);
    for _ in 0..20_000 {
        let mut parser = RequestParser::new();
        for _ in 0..rng.below(8) {
            let name: Vec<u8> = (0..rng.below(6)).map(|_| rng.byte_biased()).collect();
            let value: Vec<u8> = (0..rng.below(12)).map(|_| rng.byte_biased()).collect();
            let _ = parser.field(&name, &value);
        }
        if let Ok(head) = parser.finish() {
            let _ = (head.timeout(), head.encoding(), head.te_trailers());
        }
    }
}
