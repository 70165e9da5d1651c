//! Field-mask apply: the code aqueduct-build generates against a dynamic
//! version over `prost-reflect` (what a framework without generated masks
//! would do at run time), on the same messages (tests/proto/library/v1) and
//! masks, in the same run.
//!
//! Each round applies each mask `ITERATIONS` times to a stored message with
//! both versions, alternating; medians of `--rounds N` (default 7). Heap
//! allocations per apply are counted too.

use std::time::{Duration, Instant};

use aqueduct::fieldmask::FieldMask;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage as _};

#[global_allocator]
static ALLOC: aqueduct_benches::CountingAlloc = aqueduct_benches::CountingAlloc;

#[allow(clippy::all, missing_docs, dead_code)]
mod pb {
    include!(concat!(env!("OUT_DIR"), "/library.v1.rs"));
}

use pb::{Address, Author, Book};

const ITERATIONS: u32 = 100_000;

fn stored() -> Book {
    Book {
        name: "books/1".into(),
        title: "Old title".into(),
        author: Some(Author {
            name: "Ada".into(),
            address: Some(Address {
                city: "London".into(),
                country: "UK".into(),
            }),
            aliases: vec!["A. L.".into()],
        }),
        tags: vec!["a".into(), "b".into(), "c".into()],
        r#type: "novel".into(),
        ..Book::default()
    }
}

fn patch() -> Book {
    Book {
        title: "New title".into(),
        author: Some(Author {
            name: "ignored".into(),
            address: Some(Address {
                city: "Paris".into(),
                country: "ignored".into(),
            }),
            aliases: vec![],
        }),
        tags: vec!["x".into(), "y".into()],
        ..Book::default()
    }
}

/// The dynamic version: the same semantics as the generated code for the
/// paths used here (copy, clear when absent, through singular messages).
fn dynamic_apply(
    target: &mut DynamicMessage,
    patch: &DynamicMessage,
    mask: &FieldMask,
) -> Result<(), String> {
    for path in &mask.paths {
        let segments: Vec<&str> = path.split('.').collect();
        dynamic_path(target, patch, &segments)?;
    }
    Ok(())
}

fn dynamic_path(
    target: &mut DynamicMessage,
    patch: &DynamicMessage,
    path: &[&str],
) -> Result<(), String> {
    let [first, rest @ ..] = path else {
        return Err("empty path".into());
    };
    let field = target
        .descriptor()
        .get_field_by_name(first)
        .ok_or_else(|| format!("no field {first}"))?;
    if rest.is_empty() {
        if patch.has_field(&field) {
            target.set_field(&field, patch.get_field(&field).into_owned());
        } else {
            target.clear_field(&field);
        }
        return Ok(());
    }
    if field.is_list() || field.is_map() {
        return Err(format!("{first} is repeated"));
    }
    let sub_patch = patch.get_field(&field);
    let Some(sub_patch) = sub_patch.as_message() else {
        return Err(format!("{first} is not a message"));
    };
    let Some(sub_target) = target.get_field_mut(&field).as_message_mut() else {
        return Err(format!("{first} is not a message"));
    };
    dynamic_path(sub_target, sub_patch, rest)
}

struct Measured {
    per_apply: Duration,
    allocations: f64,
}

fn measure(mut apply: impl FnMut()) -> Measured {
    let allocations = aqueduct_benches::allocations();
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        apply();
    }
    let elapsed = start.elapsed();
    Measured {
        per_apply: elapsed / ITERATIONS,
        allocations: (aqueduct_benches::allocations() - allocations) as f64 / f64::from(ITERATIONS),
    }
}

fn main() {
    let rounds = aqueduct_benches::rounds(7);
    let fds = include_bytes!(concat!(
        env!("OUT_DIR"),
        "/aqueduct_file_descriptor_set.bin"
    ));
    let pool = DescriptorPool::decode(fds.as_slice()).expect("the build's descriptor set");
    let book = pool
        .get_message_by_name("library.v1.Book")
        .expect("library.v1.Book");
    let dynamic = |m: &Book| {
        DynamicMessage::decode(book.clone(), m.encode_to_vec().as_slice()).expect("decodes")
    };

    let masks = [
        ("title", vec!["title"]),
        (
            "title, author.address.city, tags",
            vec!["title", "author.address.city", "tags"],
        ),
    ];
    println!(
        "field-mask apply: generated code vs prost-reflect at run time ({rounds} rounds of {ITERATIONS}, medians)"
    );
    println!("| mask | generated ns | dynamic ns | ratio | generated allocs | dynamic allocs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, paths) in masks {
        let mask = FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        };
        // Both give the same result.
        let (mut typed, typed_patch) = (stored(), patch());
        typed.apply_mask(&typed_patch, &mask).expect("valid mask");
        let (mut dyn_target, dyn_patch) = (dynamic(&stored()), dynamic(&patch()));
        dynamic_apply(&mut dyn_target, &dyn_patch, &mask).expect("valid mask");
        assert_eq!(dyn_target.encode_to_vec(), typed.encode_to_vec(), "{label}");

        let (mut generated, mut reflected) = (Vec::new(), Vec::new());
        let (mut generated_allocs, mut reflected_allocs) = (0.0, 0.0);
        for _ in 0..rounds {
            let g = measure(|| {
                typed.apply_mask(&typed_patch, &mask).expect("valid mask");
            });
            let r = measure(|| {
                dynamic_apply(&mut dyn_target, &dyn_patch, &mask).expect("valid mask");
            });
            generated.push(g.per_apply);
            reflected.push(r.per_apply);
            (generated_allocs, reflected_allocs) = (g.allocations, r.allocations);
        }
        let (g, r) = (
            aqueduct_benches::median(generated),
            aqueduct_benches::median(reflected),
        );
        println!(
            "| {label} | {} | {} | {:.2} | {generated_allocs:.1} | {reflected_allocs:.1} |",
            g.as_nanos(),
            r.as_nanos(),
            g.as_secs_f64() / r.as_secs_f64()
        );
    }
}
