//! The `http2jp/hpack-test-case` stories (see `hpack-test-case/README.md`):
//! every case of every story decoded with a fresh decoder per story, the
//! header list checked, then every list re-encoded by our encoder and
//! decoded again.

use std::fs;
use std::path::{Path, PathBuf};

use aqueduct_http2::hpack::{Decoder, Encoder, Field};
use serde_json::Value;

type List = Vec<(Vec<u8>, Vec<u8>)>;

struct Case {
    table_size: Option<usize>,
    wire: Vec<u8>,
    headers: List,
}

fn stories() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hpack-test-case");
    let mut out = Vec::new();
    for dir in fs::read_dir(&root).expect("vector directory") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in fs::read_dir(&dir).expect("story directory") {
            let file = file.expect("entry").path();
            if file.extension().is_some_and(|e| e == "json") {
                out.push(file);
            }
        }
    }
    out.sort();
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn cases(path: &Path) -> Vec<Case> {
    let json: Value = serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json");
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| Case {
            table_size: case["header_table_size"].as_u64().map(|n| n as usize),
            wire: hex(case["wire"].as_str().expect("wire")),
            headers: case["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .flat_map(|h| h.as_object().expect("header").iter())
                .map(|(n, v)| {
                    let v = v.as_str().expect("value");
                    (n.as_bytes().to_vec(), v.as_bytes().to_vec())
                })
                .collect(),
        })
        .collect()
}

fn decode(decoder: &mut Decoder, block: &[u8]) -> List {
    let mut out = Vec::new();
    decoder
        .decode(block, usize::MAX, |n, v, _| {
            out.push((n.to_vec(), v.to_vec()))
        })
        .expect("decodes");
    out
}

#[test]
fn every_story_decodes() {
    let (mut files, mut total) = (0, 0);
    for path in stories() {
        let mut decoder = Decoder::default();
        for (i, case) in cases(&path).iter().enumerate() {
            if let Some(size) = case.table_size {
                decoder.set_max_table_size(size);
            }
            let mut got = Vec::new();
            let r = decoder.decode(&case.wire, usize::MAX, |n, v, _| {
                got.push((n.to_vec(), v.to_vec()));
            });
            assert_eq!(r, Ok(()), "{} case {i}", path.display());
            assert_eq!(got, case.headers, "{} case {i}", path.display());
            total += 1;
        }
        files += 1;
    }
    assert!(
        files >= 41 && total >= 200,
        "{files} stories, {total} cases"
    );
}

#[test]
fn every_story_round_trips_through_our_encoder() {
    for path in stories() {
        let cases = cases(&path);
        // With the default table, and with the table sizes the story uses.
        for follow_sizes in [false, true] {
            let mut encoder = Encoder::new();
            let mut decoder = Decoder::default();
            for (i, case) in cases.iter().enumerate() {
                if let (true, Some(size)) = (follow_sizes, case.table_size) {
                    encoder.set_max_table_size(size);
                    decoder.set_max_table_size(size);
                }
                let mut block = Vec::new();
                encoder.encode(
                    case.headers.iter().map(|(n, v)| Field::new(n, v)),
                    &mut block,
                );
                assert_eq!(
                    decode(&mut decoder, &block),
                    case.headers,
                    "{} case {i}",
                    path.display()
                );
            }
        }
    }
}
