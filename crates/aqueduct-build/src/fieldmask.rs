//! Writes the field-mask code for the messages of the packages opted in with
//! [`Builder::field_masks`](crate::Builder::field_masks): an
//! `aqueduct::fieldmask::FieldMasked` impl (typed copy code per field, no
//! reflection) and, on each message, a constant per field path and
//! `validate_mask` / `normalize_mask` / `apply_mask`.
//!
//! The Rust names follow prost-build's rules (same `heck` conversions, same
//! keyword escaping, same relative paths), since the code sits next to
//! prost's in the package's file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use heck::{ToShoutySnakeCase as _, ToSnakeCase as _, ToUpperCamelCase as _};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

const FM: &str = "::aqueduct::codegen::fieldmask";

/// Rust identifiers as prost-build writes them: keywords raw (`r#type`), the
/// few that cannot be raw with a trailing `_`.
fn sanitize(ident: String) -> String {
    const RAW: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract",
        "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
        "virtual", "yield", "async", "await", "try", "gen",
    ];
    if RAW.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else if matches!(
        ident.as_str(),
        "_" | "super" | "self" | "Self" | "extern" | "crate"
    ) {
        format!("{ident}_")
    } else if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    }
}

fn to_snake(s: &str) -> String {
    sanitize(s.to_snake_case())
}

fn to_upper_camel(s: &str) -> String {
    sanitize(s.to_upper_camel_case())
}

/// The path prost-build gives the type `full` (`.pkg.Outer.Inner`) from the
/// root module of `package`.
fn rust_path(package: &str, full: &str) -> String {
    let full = full.trim_start_matches('.');
    let mut local = package.split('.').filter(|s| !s.is_empty()).peekable();
    let mut ident: Vec<&str> = full.split('.').collect();
    let name = ident.pop().unwrap_or_default();
    let mut ident = ident.into_iter().peekable();
    while local.peek().is_some() && local.peek() == ident.peek() {
        local.next();
        ident.next();
    }
    local
        .map(|_| "super".to_owned())
        .chain(ident.map(to_snake))
        .chain(std::iter::once(to_upper_camel(name)))
        .collect::<Vec<_>>()
        .join("::")
}

/// What copying a field takes.
enum Kind {
    /// Implicit presence (proto3 scalar, string, bytes, enum): set when not
    /// the default.
    Plain,
    /// `Option<T>` of a scalar (proto3 `optional`, proto2).
    Optional,
    /// `Option<T>` (or `Option<Box<T>>`) of a message; `Some(path)` when
    /// that message has field masks too, so paths may go through it.
    Message(Option<String>),
    /// `Vec<T>` or a map: replaced as a whole; set when not empty.
    Collection,
    /// A member of a real oneof: the struct field, the enum, the variant.
    OneofMember { field: String, variant: String },
}

struct Field<'a> {
    proto: &'a FieldDescriptorProto,
    ident: String,
    kind: Kind,
}

/// Every message in `fds`, by full name (`.pkg.Outer.Inner`).
fn index(fds: &FileDescriptorSet) -> HashMap<String, (&str, &DescriptorProto)> {
    fn walk<'a>(
        package: &'a str,
        scope: &str,
        messages: &'a [DescriptorProto],
        out: &mut HashMap<String, (&'a str, &'a DescriptorProto)>,
    ) {
        for message in messages {
            let full = format!("{scope}.{}", message.name());
            walk(package, &full, &message.nested_type, out);
            out.insert(full, (package, message));
        }
    }
    let mut out = HashMap::new();
    for file in &fds.file {
        let scope = if file.package().is_empty() {
            String::new()
        } else {
            format!(".{}", file.package())
        };
        walk(file.package(), &scope, &file.message_type, &mut out);
    }
    out
}

/// The field-mask code for each package in `packages`, by package name.
pub(crate) fn generate(fds: &FileDescriptorSet, packages: &[String]) -> BTreeMap<String, String> {
    let messages = index(fds);
    let wanted: HashSet<&str> = packages.iter().map(String::as_str).collect();
    let masked: HashSet<&str> = messages
        .iter()
        .filter(|(_, (package, message))| {
            wanted.contains(package) && !message.options.as_ref().is_some_and(|o| o.map_entry())
        })
        .map(|(full, _)| full.as_str())
        .collect();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut names: Vec<&&str> = masked.iter().collect();
    names.sort();
    for full in names {
        let Some((package, message)) = messages.get(*full) else {
            continue;
        };
        let buf = out.entry((*package).to_owned()).or_default();
        message_code(package, full, message, &masked, fds, buf);
    }
    out
}

fn syntax_of<'a>(fds: &'a FileDescriptorSet, package: &str) -> &'a str {
    fds.file
        .iter()
        .find(|f| f.package() == package)
        .map_or("proto3", |f| f.syntax())
}

fn fields<'a>(
    package: &str,
    full: &str,
    message: &'a DescriptorProto,
    masked: &HashSet<&str>,
    proto2: bool,
) -> Vec<Field<'a>> {
    let module = rust_path(package, full)
        .rsplit_once("::")
        .map_or_else(String::new, |(m, _)| format!("{m}::"));
    let own_module = format!("{module}{}", to_snake(message.name()));
    message
        .field
        .iter()
        .map(|proto| {
            let ident = to_snake(proto.name());
            let real_oneof = proto.oneof_index.filter(|_| !proto.proto3_optional());
            let kind = if let Some(index) = real_oneof {
                let oneof = message
                    .oneof_decl
                    .get(usize::try_from(index).unwrap_or(usize::MAX))
                    .map_or("", |o| o.name());
                Kind::OneofMember {
                    field: to_snake(oneof),
                    variant: format!(
                        "{own_module}::{}::{}",
                        to_upper_camel(oneof),
                        to_upper_camel(proto.name())
                    ),
                }
            } else if proto.label() == Label::Repeated {
                Kind::Collection
            } else if matches!(proto.r#type(), Type::Message | Type::Group) {
                let target = proto.type_name();
                Kind::Message(masked.contains(target).then(|| rust_path(package, target)))
            } else if proto.proto3_optional() || (proto2 && proto.label() == Label::Optional) {
                Kind::Optional
            } else {
                Kind::Plain
            };
            Field { proto, ident, kind }
        })
        .collect()
}

fn message_code(
    package: &str,
    full: &str,
    message: &DescriptorProto,
    masked: &HashSet<&str>,
    fds: &FileDescriptorSet,
    buf: &mut String,
) {
    let rust = rust_path(package, full);
    let proto2 = syntax_of(fds, package) == "proto2";
    let fields = fields(package, full, message, masked, proto2);

    let _ = writeln!(buf, "impl {FM}::FieldMasked for {rust} {{");
    // Which paths exist.
    let _ = writeln!(buf, "    fn mask_path_is_valid(path: &str) -> bool {{");
    let _ = writeln!(buf, "        match {FM}::split(path) {{");
    for field in &fields {
        let name = field.proto.name();
        match &field.kind {
            Kind::Message(Some(nested)) => {
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::None) => true,"
                );
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::Some(rest)) => <{nested} as {FM}::FieldMasked>::mask_path_is_valid(rest),"
                );
            }
            _ => {
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::None) => true,"
                );
            }
        }
    }
    let _ = writeln!(buf, "            _ => false,");
    let _ = writeln!(buf, "        }}");
    let _ = writeln!(buf, "    }}");

    // Copying one path.
    let _ = writeln!(
        buf,
        "    fn mask_copy_path(&mut self, patch: &Self, path: &str) {{"
    );
    let _ = writeln!(buf, "        #[allow(unused_imports)]");
    let _ = writeln!(buf, "        use {FM}::FieldMasked as _;");
    let _ = writeln!(buf, "        match {FM}::split(path) {{");
    for field in &fields {
        let (name, ident) = (field.proto.name(), &field.ident);
        match &field.kind {
            Kind::OneofMember {
                field: oneof,
                variant,
            } => {
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::None) => match &patch.{oneof} {{ ::core::option::Option::Some({variant}(value)) => self.{oneof} = ::core::option::Option::Some({variant}(::core::clone::Clone::clone(value))), _ => if ::core::matches!(self.{oneof}, ::core::option::Option::Some({variant}(_))) {{ self.{oneof} = ::core::option::Option::None; }} }},"
                );
            }
            Kind::Message(Some(_)) => {
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::None) => ::core::clone::Clone::clone_from(&mut self.{ident}, &patch.{ident}),"
                );
                // Through the message: the patch's (or a default) sub-message.
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::Some(rest)) => {{ let target = self.{ident}.get_or_insert_with(::core::default::Default::default); match &patch.{ident} {{ ::core::option::Option::Some(patch) => target.mask_copy_path(patch, rest), ::core::option::Option::None => target.mask_copy_path(&::core::default::Default::default(), rest) }} }}"
                );
            }
            _ => {
                let _ = writeln!(
                    buf,
                    "            (\"{name}\", ::core::option::Option::None) => ::core::clone::Clone::clone_from(&mut self.{ident}, &patch.{ident}),"
                );
            }
        }
    }
    let _ = writeln!(buf, "            _ => {{}}");
    let _ = writeln!(buf, "        }}");
    let _ = writeln!(buf, "    }}");

    // The empty mask: every field set in the patch.
    let _ = writeln!(
        buf,
        "    fn mask_copy_set_fields(&mut self, patch: &Self) {{"
    );
    let mut oneofs_done = HashSet::new();
    for field in &fields {
        let ident = &field.ident;
        let (set, member) = match &field.kind {
            Kind::Plain => (format!("!{FM}::is_default(&patch.{ident})"), ident),
            Kind::Optional | Kind::Message(_) => (format!("patch.{ident}.is_some()"), ident),
            Kind::Collection => (format!("!patch.{ident}.is_empty()"), ident),
            Kind::OneofMember { field: oneof, .. } => {
                if !oneofs_done.insert(oneof.clone()) {
                    continue;
                }
                (format!("patch.{oneof}.is_some()"), oneof)
            }
        };
        let _ = writeln!(
            buf,
            "        if {set} {{ ::core::clone::Clone::clone_from(&mut self.{member}, &patch.{member}); }}"
        );
    }
    let _ = writeln!(buf, "    }}");
    let _ = writeln!(buf, "}}");

    // Path constants and the three entry points.
    let _ = writeln!(buf, "impl {rust} {{");
    for field in &fields {
        let name = field.proto.name();
        let _ = writeln!(buf, "    /// Field mask path of `{name}`.");
        let _ = writeln!(
            buf,
            "    pub const PATH_{}: &'static str = \"{name}\";",
            name.to_shouty_snake_case()
        );
    }
    let short = full.rsplit('.').next().unwrap_or(full);
    let _ = writeln!(
        buf,
        "    /// Checks that every path of `mask` names a field of `{short}` (`INVALID_ARGUMENT` naming the first that does not)."
    );
    let _ = writeln!(
        buf,
        "    pub fn validate_mask(mask: &{FM}::FieldMask) -> ::core::result::Result<(), ::aqueduct::codegen::Status> {{ {FM}::validate::<Self>(mask) }}"
    );
    let _ = writeln!(
        buf,
        "    /// `mask` sorted, deduplicated, without paths a parent path covers."
    );
    let _ = writeln!(
        buf,
        "    #[must_use] pub fn normalize_mask(mask: &{FM}::FieldMask) -> {FM}::FieldMask {{ {FM}::normalize(mask) }}"
    );
    let _ = writeln!(
        buf,
        "    /// Copies the fields `mask` names from `patch` (an empty mask: every field set in `patch`; `*`: all)."
    );
    let _ = writeln!(
        buf,
        "    pub fn apply_mask(&mut self, patch: &Self, mask: &{FM}::FieldMask) -> ::core::result::Result<(), ::aqueduct::codegen::Status> {{ {FM}::apply(self, patch, mask) }}"
    );
    let _ = writeln!(buf, "}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_prosts() {
        assert_eq!(rust_path("library.v1", ".library.v1.Book"), "Book");
        assert_eq!(
            rust_path("library.v1", ".library.v1.Book.Author"),
            "book::Author"
        );
        assert_eq!(
            rust_path("library.v1", ".common.v1.Money"),
            "super::super::common::v1::Money"
        );
        assert_eq!(rust_path("", ".Top.type"), "top::Type");
        assert_eq!(to_snake("type"), "r#type");
        assert_eq!(to_snake("self"), "self_");
    }
}
