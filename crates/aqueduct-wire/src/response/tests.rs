use super::*;
use crate::metadata;
use crate::status::{decode_message, encode_message};
use crate::test_rng::Rng;

fn head(fields: &[(&[u8], &[u8])], end_stream: bool) -> Result<ResponseHead, ResponseError> {
    let mut parser = ResponseParser::new();
    for (name, value) in fields {
        parser.field(name, value);
    }
    parser.finish(end_stream)
}

const OK_HEAD: [(&[u8], &[u8]); 2] = [(b":status", b"200"), (b"content-type", b"application/grpc")];

fn ok_head(extra: &[(&[u8], &[u8])], end_stream: bool) -> Result<ResponseHead, ResponseError> {
    head(&[&OK_HEAD[..], extra].concat(), end_stream)
}

fn trailers(fields: &[(&[u8], &[u8])]) -> Result<ReceivedStatus, ResponseError> {
    let mut parser = TrailersParser::new();
    for (name, value) in fields {
        parser.field(name, value);
    }
    parser.finish()
}

#[test]
fn plain_response_heads() {
    assert_eq!(
        ok_head(&[], false),
        Ok(ResponseHead::Headers { encoding: None })
    );
    let encoding = |value: &[u8]| match ok_head(&[(b"grpc-encoding", value)], false) {
        Ok(ResponseHead::Headers { encoding }) => Ok(encoding),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e),
    };
    assert_eq!(encoding(b"gzip"), Ok(Some(Encoding::Gzip)));
    // Unlike a request's, a response's identity is kept.
    assert_eq!(encoding(b"identity"), Ok(Some(Encoding::Identity)));
    let e = encoding(b"br").unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::Encoding);
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(e.message(), "server sent unsupported grpc-encoding \"br\"");
    for content_type in [&b"application/grpc+proto"[..], b"application/grpc+json"] {
        head(
            &[(b":status", b"200"), (b"content-type", content_type)],
            false,
        )
        .unwrap();
    }
}

#[test]
fn fields_are_classified() {
    let mut parser = ResponseParser::new();
    assert_eq!(parser.field(b":status", b"200"), Field::Pseudo);
    assert_eq!(
        parser.field(b"content-type", b"application/grpc"),
        Field::Protocol
    );
    assert_eq!(parser.field(b"grpc-status", b"0"), Field::Protocol);
    assert_eq!(parser.field(b"x-served-by", b"a"), Field::Metadata);
    let mut parser = TrailersParser::new();
    assert_eq!(parser.field(b"grpc-message", b"x"), Field::Protocol);
    assert_eq!(parser.field(b"x-cost-bin", b"AQI"), Field::Metadata);
}

#[test]
fn http_status_other_than_200_maps_to_a_code() {
    for (status, code, text) in [
        (&b"404"[..], Code::Unimplemented, "404 Not Found"),
        (b"503", Code::Unavailable, "503 Service Unavailable"),
        (b"400", Code::Internal, "400 Bad Request"),
        (b"401", Code::Unauthenticated, "401 Unauthorized"),
        (b"500", Code::Unknown, "500 Internal Server Error"),
        (b"204", Code::Unknown, "204 No Content"),
        (b"599", Code::Unknown, "599 <unknown status code>"),
        (b"100", Code::Unknown, "100 Continue"),
    ] {
        // Checked first: a gRPC content type or status in the head changes nothing.
        let fields = [
            (&b":status"[..], status),
            (b"content-type", b"application/grpc"),
            (b"grpc-status", b"0"),
        ];
        let e = head(&fields, true).unwrap_err();
        assert_eq!(e.kind(), ResponseErrorKind::HttpStatus);
        assert_eq!(e.code(), code);
        assert_eq!(
            e.message(),
            format!("unexpected HTTP status code {text} from server")
        );
    }
}

#[test]
fn malformed_http_status() {
    for (status, message) in [
        (&b"20"[..], "malformed :status \"20\" in response"),
        (b"2000", "malformed :status \"2000\" in response"),
        (b"099", "malformed :status \"099\" in response"),
        (b"+20", "malformed :status \"+20\" in response"),
        (b"", "malformed :status \"\" in response"),
    ] {
        let e = head(&[(b":status", status)], false).unwrap_err();
        assert_eq!(e.kind(), ResponseErrorKind::MalformedHttpStatus);
        assert_eq!(e.code(), Code::Internal);
        assert_eq!(e.message(), message);
    }
    let e = head(&[(b"content-type", b"application/grpc")], false).unwrap_err();
    assert_eq!(e.message(), "response without :status");
}

#[test]
fn content_type_must_be_grpc() {
    for (fields, shown) in [
        (&[(&b":status"[..], &b"200"[..])][..], r#""""#),
        (
            &[(b":status", b"200"), (b"content-type", b"text/html")],
            r#""text/html""#,
        ),
        (
            &[(b":status", b"200"), (b"content-type", b"\xffx")],
            "\"\u{fffd}x\"",
        ),
    ] {
        let e = head(fields, true).unwrap_err();
        assert_eq!(e.kind(), ResponseErrorKind::ContentType);
        assert_eq!(e.code(), Code::Unknown);
        assert_eq!(
            e.message(),
            format!("invalid content-type {shown} in response")
        );
    }
}

#[test]
fn bad_binary_metadata_fails_the_call() {
    let e = ok_head(&[(b"grpc-status", b"0"), (b"x-bin", b"A")], true).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::BinaryMetadata);
    assert_eq!(e.code(), Code::Internal);
    assert!(
        e.message()
            .starts_with("malformed binary metadata \"x-bin\""),
        "{e}"
    );
    // Before the encoding is looked at.
    let e = ok_head(&[(b"grpc-encoding", b"br"), (b"x-bin", b"A")], false).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::BinaryMetadata);
    let e = trailers(&[(b"grpc-status", b"0"), (b"a-bin", b"!"), (b"b-bin", b"!")]).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::BinaryMetadata);
    assert!(e.message().contains("\"a-bin\""), "{e}");
    // The protocol's own -bin key is not metadata: bad details are dropped.
    let status = trailers(&[(b"grpc-status", b"3"), (b"grpc-status-details-bin", b"!")]);
    assert_eq!(status.unwrap().details, b"");
}

#[test]
fn trailers_only_responses() {
    let only = |extra: &[(&[u8], &[u8])]| match ok_head(extra, true) {
        Ok(ResponseHead::TrailersOnly(status)) => status,
        other => panic!("{other:?}"),
    };
    let status = only(&[
        (b"grpc-status", b"7"),
        (b"grpc-message", b"no%20way"),
        (b"grpc-status-details-bin", b"AQI"),
        // Not looked at in a trailers-only response.
        (b"grpc-encoding", b"br"),
    ])
    .unwrap();
    assert_eq!(status.code, Code::PermissionDenied);
    assert_eq!(status.message, "no way");
    assert_eq!(status.details, [1, 2]);
    assert!(!status.is_plain_ok());
    assert!(only(&[(b"grpc-status", b"0")]).unwrap().is_plain_ok());

    let e = only(&[]).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::MissingStatus);
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(
        e.message(),
        "server ended the response without a grpc-status"
    );
    let e = only(&[(b"grpc-status", b"abc"), (b"grpc-message", b"x")]).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::InvalidStatus);
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(e.message(), "protocol error: invalid grpc-status \"abc\"");
}

#[test]
fn trailer_statuses() {
    let ok = trailers(&[(b"grpc-status", b"0"), (b"x-cost", b"3")]).unwrap();
    assert_eq!(ok.code, Code::Ok);
    assert!(ok.is_plain_ok());
    // OK spelled otherwise is OK, but not the plain case.
    let ok = trailers(&[(b"grpc-status", b"00"), (b"grpc-message", b"fine")]).unwrap();
    assert_eq!(
        (ok.code, ok.is_plain_ok(), &ok.message[..]),
        (Code::Ok, false, "fine")
    );
    // Numbers outside the known codes are UNKNOWN.
    assert_eq!(
        trailers(&[(b"grpc-status", b"99")]).unwrap().code,
        Code::Unknown
    );

    let e = trailers(&[(b"grpc-message", b"x")]).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::MissingStatus);
    assert_eq!(e.code(), Code::Internal);
    assert_eq!(e.message(), "server sent trailers without grpc-status");
    let e = trailers(&[(b"grpc-status", b" 1")]).unwrap_err();
    assert_eq!(e.kind(), ResponseErrorKind::InvalidStatus);
    assert_eq!(e.message(), "protocol error: invalid grpc-status \" 1\"");
    assert_eq!(
        e.to_string(),
        "INTERNAL: protocol error: invalid grpc-status \" 1\""
    );

    let e = ResponseError::no_trailers();
    assert_eq!(e.kind(), ResponseErrorKind::NoTrailers);
    assert_eq!(e.code(), Code::Internal);
}

#[test]
fn the_first_of_repeated_fields_counts() {
    let fields = [
        (&b":status"[..], &b"200"[..]),
        (b":status", b"500"),
        (b"content-type", b"application/grpc"),
        (b"content-type", b"text/html"),
        (b"grpc-encoding", b"gzip"),
        (b"grpc-encoding", b"br"),
    ];
    assert_eq!(
        head(&fields, false),
        Ok(ResponseHead::Headers {
            encoding: Some(Encoding::Gzip)
        })
    );
    let fields = [
        (&b":status"[..], &b"200"[..]),
        (b"content-type", b"text/html"),
    ];
    let mut parser = ResponseParser::new();
    for (name, value) in fields {
        parser.field(name, value);
    }
    parser.field(b"content-type", b"application/grpc");
    assert!(parser.finish(false).is_err());
    let status = trailers(&[
        (b"grpc-status", b"5"),
        (b"grpc-status", b"x"),
        (b"grpc-message", b"a"),
        (b"grpc-message", b"b"),
        (b"grpc-status-details-bin", b"!"),
        (b"grpc-status-details-bin", b"AQI"),
    ])
    .unwrap();
    assert_eq!(
        (status.code, &status.message[..], &status.details[..]),
        (Code::NotFound, "a", &b""[..])
    );
}

#[test]
fn status_fields() {
    let fields = StatusFields::ok();
    assert_eq!(fields.fields().collect::<Vec<_>>(), [("grpc-status", "0")]);
    assert_eq!(
        (fields.code(), fields.message(), fields.details()),
        (Code::Ok, None, None)
    );
    assert_eq!(StatusFields::new(Code::Ok, "", b""), StatusFields::ok());
    let fields = StatusFields::new(Code::Internal, "é\n", b"");
    assert_eq!(fields.message(), Some("%C3%A9%0A"));
    assert_eq!(fields.fields().count(), 2);
    let fields = StatusFields::new(Code::Aborted, "", &[0xff; 4]);
    assert_eq!(fields.details(), Some("/////w"));
    assert_eq!(
        fields.fields().map(|(name, _)| name).collect::<Vec<_>>(),
        ["grpc-status", "grpc-status-details-bin"]
    );
}

#[test]
fn status_fields_round_trip() {
    let mut rng = Rng::new(0x57a7);
    let chars = [
        'a',
        ' ',
        '%',
        '\n',
        '\t',
        '\u{7f}',
        '\u{e9}',
        '\u{263a}',
        '\u{1f608}',
        '2',
    ];
    for _ in 0..20_000 {
        let code = Code::ALL[rng.below(Code::ALL.len())];
        let message: String = (0..rng.below(8))
            .map(|_| chars[rng.below(chars.len())])
            .collect();
        let details: Vec<u8> = (0..rng.below(8)).map(|_| rng.byte_biased()).collect();
        let encoded = StatusFields::new(code, &message, &details);
        let mut fields: Vec<(&[u8], &[u8])> = encoded
            .fields()
            .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
            .collect();
        for (_, value) in &fields {
            assert!(value.iter().all(|b| (0x20..=0x7e).contains(b)), "{value:?}");
        }
        // Metadata sent with the status, anywhere among its fields.
        let at = rng.below(fields.len() + 1);
        fields.insert(at, (b"x-trace-bin", b"AQI"));
        let want = ReceivedStatus {
            code,
            message,
            details,
            plain_ok: code == Code::Ok,
        };
        assert_eq!(trailers(&fields).as_ref(), Ok(&want));
        let trailers_only = ok_head(&fields, true);
        assert_eq!(trailers_only, Ok(ResponseHead::TrailersOnly(Ok(want))));
    }
}

/// What today's client (`on_response` and `on_trailers` in the runtime's
/// `streaming.rs`) makes of a head or trailers, written the way it is written
/// there, over a map whose `get` is the first value of a name.
#[derive(Debug, PartialEq)]
enum Outcome {
    Fail(Code, String),
    Headers(Option<Encoding>),
    /// A status from `grpc-status`: code, message, details, the fast path.
    Status(Code, String, Vec<u8>, bool),
    /// An `INTERNAL` status standing for a missing or garbled `grpc-status`.
    Internal(String),
}

type Fields = [(Vec<u8>, Vec<u8>)];

fn get<'a>(fields: &'a Fields, name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(n, _)| n == name.as_bytes())
        .map(|(_, v)| &v[..])
}

fn check_received(fields: &Fields) -> Result<(), String> {
    for (name, value) in fields {
        let key = String::from_utf8_lossy(name);
        let user = !metadata::is_reserved(&key) && key != "user-agent";
        if metadata::is_binary_key(&key) && user {
            if let Err(e) = metadata::validate_binary(value) {
                return Err(format!(
                    "malformed binary metadata {key:?}: {e} (standard alphabet, padded or not)"
                ));
            }
        }
    }
    Ok(())
}

fn from_trailers(fields: &Fields) -> Option<Outcome> {
    let raw = get(fields, "grpc-status")?;
    let Some(code) = Code::from_header(raw) else {
        return Some(Outcome::Internal(format!(
            "protocol error: invalid grpc-status {:?}",
            String::from_utf8_lossy(raw)
        )));
    };
    let message = get(fields, "grpc-message")
        .map(decode_message)
        .unwrap_or_default();
    let details = get(fields, "grpc-status-details-bin")
        .and_then(|v| metadata::decode_binary(v).ok())
        .unwrap_or_default();
    Some(Outcome::Status(code, message, details, false))
}

fn reference_head(status: u16, fields: &Fields, end_stream: bool) -> Outcome {
    if status != 200 {
        let reason = reason_phrase(status).unwrap_or("<unknown status code>");
        return Outcome::Fail(
            Code::from_http_status(status),
            format!("unexpected HTTP status code {status} {reason} from server"),
        );
    }
    let content_type = get(fields, "content-type").unwrap_or_default();
    if !crate::headers::is_grpc_content_type(content_type) {
        return Outcome::Fail(
            Code::Unknown,
            format!(
                "invalid content-type {:?} in response",
                String::from_utf8_lossy(content_type)
            ),
        );
    }
    if let Err(message) = check_received(fields) {
        return Outcome::Fail(Code::Internal, message);
    }
    if end_stream {
        return from_trailers(fields).unwrap_or_else(|| {
            Outcome::Internal("server ended the response without a grpc-status".into())
        });
    }
    match get(fields, "grpc-encoding") {
        None => Outcome::Headers(None),
        Some(enc) => match Encoding::from_name(enc) {
            Some(e) => Outcome::Headers(Some(e)),
            None => Outcome::Fail(
                Code::Internal,
                format!(
                    "server sent unsupported grpc-encoding {:?}",
                    String::from_utf8_lossy(enc)
                ),
            ),
        },
    }
}

fn reference_trailers(fields: &Fields) -> Outcome {
    if let Err(message) = check_received(fields) {
        return Outcome::Fail(Code::Internal, message);
    }
    if get(fields, "grpc-status") == Some(b"0") {
        return Outcome::Status(Code::Ok, String::new(), Vec::new(), true);
    }
    from_trailers(fields)
        .unwrap_or_else(|| Outcome::Internal("server sent trailers without grpc-status".into()))
}

/// Ours, in the reference's terms; `fast_path` where today's code has one
/// (trailers after messages, not a trailers-only head).
fn outcome(status: Result<ReceivedStatus, ResponseError>, fast_path: bool) -> Outcome {
    match status {
        // The fast path builds no status: its message and details are unread.
        Ok(s) if fast_path && s.is_plain_ok() => {
            Outcome::Status(s.code, String::new(), Vec::new(), true)
        }
        Ok(s) => Outcome::Status(s.code, s.message, s.details, false),
        Err(e) if e.kind() == ResponseErrorKind::BinaryMetadata => {
            Outcome::Fail(e.code(), e.into_message())
        }
        Err(e) => {
            assert_eq!(e.code(), Code::Internal);
            Outcome::Internal(e.into_message())
        }
    }
}

fn ours_head(status: u16, fields: &Fields, end_stream: bool) -> Outcome {
    let mut parser = ResponseParser::new();
    parser.field(b":status", status.to_string().as_bytes());
    for (name, value) in fields {
        parser.field(name, value);
    }
    match parser.finish(end_stream) {
        Ok(ResponseHead::Headers { encoding }) => Outcome::Headers(encoding),
        Ok(ResponseHead::TrailersOnly(status)) => outcome(status, false),
        Err(e) => Outcome::Fail(e.code(), e.into_message()),
    }
}

fn ours_trailers(fields: &Fields) -> Outcome {
    let mut parser = TrailersParser::new();
    for (name, value) in fields {
        parser.field(name, value);
    }
    outcome(parser.finish(), true)
}

const NAMES: &[&str] = &[
    "content-type",
    "grpc-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "x-bin",
    "x-id",
    "user-agent-bin",
];

const VALUES: &[&str] = &[
    "application/grpc",
    "application/grpc+proto",
    "text/html",
    "gzip",
    "identity",
    "br",
    "0",
    "00",
    "5",
    "17",
    "abc",
    "a%20b%",
    "AQI",
    "A",
    "",
];

fn random_fields(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = Vec::new();
    if rng.below(4) != 0 {
        fields.push((b"content-type".to_vec(), b"application/grpc".to_vec()));
    }
    if rng.below(2) == 0 {
        let code = ["0", "13", "00", "x"][rng.below(4)];
        fields.push((b"grpc-status".to_vec(), code.as_bytes().to_vec()));
    }
    for _ in 0..rng.below(6) {
        let name = NAMES[rng.below(NAMES.len())].as_bytes().to_vec();
        let value = if rng.below(4) == 0 {
            (0..rng.below(6))
                .map(|_| rng.byte_from(b"0123AQ%/+=a"))
                .collect()
        } else {
            VALUES[rng.below(VALUES.len())].as_bytes().to_vec()
        };
        fields.insert(rng.below(fields.len() + 1), (name, value));
    }
    fields
}

#[test]
fn random_responses_are_read_as_today() {
    let mut rng = Rng::new(0x7e5b);
    let mut statuses = 0;
    for _ in 0..30_000 {
        let status = match rng.below(8) {
            0 => [404, 503, 500, 302, 599][rng.below(5)],
            _ => 200,
        };
        let fields = random_fields(&mut rng);
        let end_stream = rng.below(2) == 0;
        let want = reference_head(status, &fields, end_stream);
        assert_eq!(
            ours_head(status, &fields, end_stream),
            want,
            "{status} {fields:?}"
        );
        let want = reference_trailers(&fields);
        assert_eq!(ours_trailers(&fields), want, "{fields:?}");
        statuses += usize::from(matches!(want, Outcome::Status(..)));
    }
    assert!(statuses > 3_000, "{statuses}");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0xfa11);
    for _ in 0..20_000 {
        let mut head = ResponseParser::new();
        let mut trailers = TrailersParser::new();
        for _ in 0..rng.below(8) {
            let name: Vec<u8> = match rng.below(3) {
                0 => NAMES[rng.below(NAMES.len())].as_bytes().to_vec(),
                1 => b":status".to_vec(),
                _ => (0..rng.below(6)).map(|_| rng.byte_biased()).collect(),
            };
            let value: Vec<u8> = (0..rng.below(12)).map(|_| rng.byte_biased()).collect();
            let _ = head.field(&name, &value);
            let _ = trailers.field(&name, &value);
        }
        let _ = head.finish(rng.below(2) == 0);
        let _ = trailers.finish();
    }
}

#[test]
fn messages_decode_what_status_fields_encode() {
    // The round trip above, for the interop test's special message.
    let msg = "\t\ntest with whitespace\r\nand Unicode BMP \u{263a} and non-BMP \u{1f608}\t\n";
    assert_eq!(decode_message(encode_message(msg).as_bytes()), msg);
    let fields = StatusFields::new(Code::Unknown, msg, b"");
    let mut parser = TrailersParser::new();
    for (name, value) in fields.fields() {
        parser.field(name.as_bytes(), value.as_bytes());
    }
    assert_eq!(parser.finish().unwrap().message, msg);
}
