//! Partial updates with `google.protobuf.FieldMask` (AIP-134, AIP-161).
//!
//! An `Update` request carries the resource and a mask naming the fields to
//! change. For every message of a package opted in with
//! `aqueduct_build::configure().field_masks(["my.pkg.v1"])`, the generated code
//! implements [`FieldMasked`] (a table of field names and typed copy code: no
//! reflection at run time) and adds a constant per field:
//!
//! ```ignore
//! // book.title and book.author.name change; nothing else does.
//! let mask = FieldMask { paths: vec![Book::PATH_TITLE.into(), fieldmask::path(&[Book::PATH_AUTHOR, Author::PATH_NAME])] };
//! fieldmask::apply(&mut stored, &request.book, &mask)?;
//! ```
//!
//! What a mask means:
//!
//! - each path names a field by its proto name; `a.b` goes through the
//!   singular message field `a` (not through repeated, map or oneof fields,
//!   nor into messages from packages without generated masks, such as the
//!   well-known types);
//! - a masked field is copied from the patch; a repeated or map field is
//!   replaced, not appended to; a masked message field absent from the patch
//!   is cleared; `a.b` with `a` absent from the patch sets `b` to its default;
//! - `*` (alone) replaces the whole message;
//! - an empty mask means every field set in the patch (non-default scalars,
//!   present messages, non-empty lists and maps, the chosen oneof member).

use crate::Status;

pub use prost_types::FieldMask;

/// The most fields a path may go through (`a.b.c` is 3). Deeper paths are
/// `INVALID_ARGUMENT`: checking and copying recurse once per field, and a
/// recursive message must not let a peer's mask run the stack out.
pub const MAX_PATH_DEPTH: usize = 64;

/// The longest path an error message quotes in full.
const QUOTED_PATH: usize = 128;

/// What generated code implements for a message with field masks.
///
/// The methods starting with `mask_` are called by [`validate`] and
/// [`apply`], with the path already checked; call those instead.
pub trait FieldMasked: Clone + Default {
    /// Whether `path` (`a` or `a.b...`) names a field of this message.
    fn mask_path_is_valid(path: &str) -> bool;
    /// Copies the field that a valid `path` names from `patch`.
    fn mask_copy_path(&mut self, patch: &Self, path: &str);
    /// Copies every field that is set in `patch` (the empty mask).
    fn mask_copy_set_fields(&mut self, patch: &Self);
}

/// The path of a nested field: `path(&[Book::PATH_AUTHOR, Author::PATH_NAME])`
/// is `"author.name"`.
#[must_use]
pub fn path(fields: &[&str]) -> String {
    fields.join(".")
}

/// Checks that every path of `mask` names a field of `M`.
///
/// # Errors
///
/// `INVALID_ARGUMENT` naming the first path that does not, or `*` used with
/// other paths.
pub fn validate<M: FieldMasked>(mask: &FieldMask) -> Result<(), Status> {
    if mask.paths.len() > 1 && mask.paths.iter().any(|p| p == "*") {
        return Err(Status::invalid_argument(
            "field mask: \"*\" must be the only path",
        ));
    }
    for path in &mask.paths {
        if path == "*" {
            continue;
        }
        if path.split('.').nth(MAX_PATH_DEPTH).is_some() {
            return Err(Status::invalid_argument(format!(
                "field mask: {} goes through more than {MAX_PATH_DEPTH} fields",
                quoted(path)
            )));
        }
        if !M::mask_path_is_valid(path) {
            return Err(Status::invalid_argument(format!(
                "field mask: {} does not name a field of {}",
                quoted(path),
                short_type_name::<M>()
            )));
        }
    }
    Ok(())
}

/// The same mask sorted, without duplicates, and without paths that a parent
/// path already covers (`a.b` goes when `a` is there). `*` alone stays `*`.
#[must_use]
pub fn normalize(mask: &FieldMask) -> FieldMask {
    if mask.paths.iter().any(|p| p == "*") {
        return FieldMask {
            paths: vec!["*".to_owned()],
        };
    }
    let mut paths = mask.paths.clone();
    paths.sort();
    paths.dedup();
    let mut kept: Vec<String> = Vec::with_capacity(paths.len());
    for path in paths {
        // Sorted, a parent comes right before its children ("a" < "a.b"),
        // though not always last among the kept ("a" < "a-b" < "a.b").
        let covered = kept.iter().rev().any(|parent| {
            path.strip_prefix(parent.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        });
        if !covered {
            kept.push(path);
        }
    }
    FieldMask { paths: kept }
}

/// Copies exactly the fields `mask` names from `patch` into `target` (see the
/// module docs for what each kind of path means). Checks the mask first and
/// changes nothing when it is invalid.
///
/// # Errors
///
/// `INVALID_ARGUMENT` as [`validate`].
pub fn apply<M: FieldMasked>(target: &mut M, patch: &M, mask: &FieldMask) -> Result<(), Status> {
    validate::<M>(mask)?;
    if mask.paths.is_empty() {
        target.mask_copy_set_fields(patch);
        return Ok(());
    }
    for path in &mask.paths {
        if path == "*" {
            target.clone_from(patch);
            continue;
        }
        target.mask_copy_path(patch, path);
    }
    Ok(())
}

/// A path's first field and the rest after the first `.` (for generated code).
#[doc(hidden)]
#[must_use]
pub fn split(path: &str) -> (&str, Option<&str>) {
    match path.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    }
}

/// Whether `value` is its type's default (for generated code: a proto3
/// scalar is "set" when it is not).
#[doc(hidden)]
pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// `path` quoted, cut short if long (the status travels in a header).
fn quoted(path: &str) -> String {
    if path.len() <= QUOTED_PATH {
        return format!("{path:?}");
    }
    let end = (0..=QUOTED_PATH)
        .rev()
        .find(|&i| path.is_char_boundary(i))
        .unwrap_or(0);
    let start = path.get(..end).unwrap_or_default();
    format!("{start:?}... ({} bytes)", path.len())
}

fn short_type_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn normalize_sorts_dedupes_and_drops_covered_paths() {
        assert_eq!(
            normalize(&mask(&["b", "a.b", "a", "a-b", "a.c.d", "b", "ab.c"])),
            mask(&["a", "a-b", "ab.c", "b"])
        );
        assert_eq!(normalize(&mask(&["a.b.c", "a.b"])), mask(&["a.b"]));
        assert_eq!(normalize(&mask(&["x", "*"])), mask(&["*"]));
        assert_eq!(normalize(&mask(&[])), mask(&[]));
    }
}
