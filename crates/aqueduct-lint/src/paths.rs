//! Where files are relative to a lint root: `.`, `./`, `..` and absolute
//! paths all name the same place, and the `.proto` files under a directory.

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// `path` relative to `root`, the way the compiler names it: both are taken
/// from `base` when relative (the current directory, for a command line), and
/// `.` and `..` are resolved, so `--root .`, `--root ./`, `--root ../proto`
/// and absolute paths all work. When the paths as written do not nest (a
/// symbolic link on the way), their real paths are compared instead.
///
/// ```
/// use std::path::Path;
///
/// let base = Path::new("/repo/tools");
/// let relative = |root: &str, path: &str| {
///     aqueduct_lint::relative_to(Path::new(root), Path::new(path), base)
/// };
/// let file = Path::new("acme/shop/v1/shop.proto");
/// assert_eq!(relative("..", "../acme/shop/v1/shop.proto")?, file);
/// assert_eq!(relative("/repo/", "./../acme/shop/v1/shop.proto")?, file);
/// assert_eq!(relative("/repo", "/repo/./acme/x/../shop/v1/shop.proto")?, file);
/// assert!(relative(".", "../acme/shop/v1/shop.proto").is_err());
/// # Ok::<(), aqueduct_lint::Error>(())
/// ```
///
/// # Errors
///
/// `path` is not under `root` (nor is its real path under `root`'s).
pub fn relative_to(root: &Path, path: &Path, base: &Path) -> Result<PathBuf, Error> {
    let lexical = normalize(&base.join(root)).and_then(|root| {
        Some(
            normalize(&base.join(path))?
                .strip_prefix(root)
                .ok()?
                .to_path_buf(),
        )
    });
    let real = || {
        let root = base.join(root).canonicalize().ok()?;
        let path = base.join(path).canonicalize().ok()?;
        Some(path.strip_prefix(root).ok()?.to_path_buf())
    };
    lexical.or_else(real).ok_or_else(|| {
        Error::new(format!(
            "{} is not under the root {}",
            path.display(),
            root.display()
        ))
    })
}

/// `path` without `.` components and with each `..` taking off the component
/// before it; `None` if a `..` would climb above the start of a relative path.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(_) => {
                    out.pop();
                }
                None => return None,
            },
            other => out.push(other),
        }
    }
    Some(out)
}

/// The `.proto` files under `root/dir`, relative to `root`, sorted (skipping
/// hidden directories, `target` and `node_modules`).
///
/// ```no_run
/// use std::path::Path;
///
/// // The files of acme/shop/ and below, named as from the root `proto`.
/// let files = aqueduct_lint::proto_files(Path::new("proto"), Path::new("acme/shop"))?;
/// # Ok::<(), aqueduct_lint::Error>(())
/// ```
///
/// # Errors
///
/// A directory cannot be read.
pub fn proto_files(root: &Path, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    collect(root, dir, &mut files).map_err(|error| {
        Error::new(format!("cannot read {}: {error}", root.join(dir).display()))
    })?;
    files.sort();
    Ok(files)
}

fn collect(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = relative.join(&*name);
        if entry.file_type()?.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                collect(root, &path, out)?;
            }
        } else if name.ends_with(".proto") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_resolve_and_cannot_climb_out_of_a_relative_path() {
        let n = |p: &str| normalize(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(n("./a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(n("/../a").as_deref(), Some("/a"));
        assert_eq!(n("a/../..").as_deref(), None);
        assert_eq!(n(".").as_deref(), Some(""));
    }

    #[test]
    fn a_file_is_under_the_root_it_is_in_and_no_other() {
        let base = Path::new("/repo");
        let rel = |root: &str, path: &str| relative_to(Path::new(root), Path::new(path), base);
        assert_eq!(rel(".", "a/b.proto").unwrap(), Path::new("a/b.proto"));
        assert_eq!(rel("./", "./a/b.proto").unwrap(), Path::new("a/b.proto"));
        assert_eq!(rel("a", "/repo/a/b.proto").unwrap(), Path::new("b.proto"));
        // A sibling whose name starts with the root's is not under it.
        let error = rel("a", "ab/c.proto").unwrap_err();
        assert_eq!(error.to_string(), "ab/c.proto is not under the root a");
    }
}
