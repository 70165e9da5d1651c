//! The rules and their checks. Rule ids are buf's where the rule is the same
//! check, so findings can be compared (docs/lint.md lists where they differ).

use std::collections::HashMap;

use heck::ToUpperCamelCase as _;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::Config;

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Its id, as findings and the configuration name it.
    pub id: &'static str,
    /// Why it matters, in one line.
    pub why: &'static str,
}

/// Every rule, in the order `aqueduct lint --rules` lists them.
pub const RULES: &[Rule] = &[
    Rule {
        id: "PACKAGE_VERSION_SUFFIX",
        why: "a version in the package (foo.v1, foo.v1beta1) lets a v2 live next to v1 instead of breaking its clients",
    },
    Rule {
        id: "PACKAGE_DIRECTORY_MATCH",
        why: "files of package a.b.v1 live in a/b/v1, so imports and generated paths are predictable",
    },
    Rule {
        id: "RPC_REQUEST_STANDARD_NAME",
        why: "a request named <Method>Request can grow fields later without touching other RPCs",
    },
    Rule {
        id: "RPC_RESPONSE_STANDARD_NAME",
        why: "a response named <Method>Response can grow fields later without touching other RPCs",
    },
    Rule {
        id: "RPC_REQUEST_RESPONSE_UNIQUE",
        why: "a message shared by two RPCs (or used both ways) cannot change for one without changing the other",
    },
    Rule {
        id: "ENUM_FIRST_VALUE_ZERO",
        why: "proto3 readers default an enum to 0, so the first value must be 0",
    },
    Rule {
        id: "ENUM_ZERO_VALUE_SUFFIX",
        why: "the zero value is what an unset field reads as; naming it <ENUM>_UNSPECIFIED keeps it from meaning something",
    },
    Rule {
        id: "ENUM_VALUE_PREFIX",
        why: "enum values share their scope with siblings in C++ and others; the <ENUM>_ prefix keeps them unique",
    },
    Rule {
        id: "ENUM_DUPLICATE_NUMBER",
        why: "two values with one number without allow_alias is a mistake, not an alias",
    },
    Rule {
        id: "RESPONSE_NO_ERROR_FIELDS",
        why: "errors belong in the gRPC status (code, message, details), not in response fields clients can ignore",
    },
    Rule {
        id: "SERVICE_PASCAL_CASE",
        why: "PascalCase service names, as every generator expects",
    },
    Rule {
        id: "SERVICE_SUFFIX",
        why: "a common suffix (Service) tells services from messages in code and docs",
    },
    Rule {
        id: "RPC_PASCAL_CASE",
        why: "PascalCase method names, as every generator expects",
    },
    Rule {
        id: "MESSAGE_PASCAL_CASE",
        why: "PascalCase message names, as every generator expects",
    },
    Rule {
        id: "ENUM_PASCAL_CASE",
        why: "PascalCase enum names, as every generator expects",
    },
    Rule {
        id: "FIELD_LOWER_SNAKE_CASE",
        why: "lower_snake_case fields map cleanly to every language and to JSON camelCase",
    },
    Rule {
        id: "ENUM_VALUE_UPPER_SNAKE_CASE",
        why: "UPPER_SNAKE_CASE enum values, as the style guide and generators expect",
    },
    Rule {
        id: "FILE_LOWER_SNAKE_CASE",
        why: "lower_snake_case file names work on every file system and in every import",
    },
];

/// The rule with id `id`.
#[must_use]
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

/// A finding before its location is looked up: the element's path in the
/// file descriptor (as in `SourceCodeInfo`).
pub(crate) struct Raw {
    pub(crate) rule: &'static str,
    pub(crate) file: usize,
    pub(crate) path: Vec<i32>,
    pub(crate) message: String,
}

// Field numbers in descriptor.proto, for source-info paths.
const FILE_PACKAGE: i32 = 2;
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const FILE_SYNTAX: i32 = 12;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;
const NAME: i32 = 1;
const ENUM_VALUE_NUMBER: i32 = 2;
const METHOD_INPUT: i32 = 2;
const METHOD_OUTPUT: i32 = 3;

fn at(base: &[i32], more: &[i32]) -> Vec<i32> {
    base.iter().chain(more).copied().collect()
}

fn index(i: usize) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

pub(crate) fn is_pascal_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn is_lower_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

pub(crate) fn is_upper_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// `PhoneType` -> `PHONE_TYPE`, `HTTPStatus` -> `HTTP_STATUS`, `Mode2D` ->
/// `MODE2D` (digits stay with the word before them, as buf has it).
pub(crate) fn upper_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let before = chars[i - 1];
            let after = chars.get(i + 1).copied();
            let boundary = before.is_ascii_lowercase()
                || (before.is_ascii_uppercase() && after.is_some_and(|a| a.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `v1`, `v2`, `v1alpha`, `v1beta1`, `v1p1beta1`, `v1test`, `v1alpha1test`...
pub(crate) fn is_version(segment: &str) -> bool {
    fn digits(s: &str) -> (&str, &str) {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s.split_at(end)
    }
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let (major, mut rest) = digits(rest);
    if major.is_empty() || major.starts_with('0') {
        return false;
    }
    // An optional point release: p<digits> before a stability.
    if let Some(point) = rest.strip_prefix('p') {
        let (number, after) = digits(point);
        if number.is_empty() || !(after.starts_with("alpha") || after.starts_with("beta")) {
            return false;
        }
        rest = after;
    }
    for stability in ["alpha", "beta"] {
        if let Some(after) = rest.strip_prefix(stability) {
            rest = digits(after).1;
            break;
        }
    }
    rest.is_empty() || rest.starts_with("test")
}

/// The simple name of a fully qualified type (`.a.b.Msg` -> `Msg`).
fn simple(type_name: &str) -> &str {
    type_name.rsplit('.').next().unwrap_or(type_name)
}

const EMPTY: &str = ".google.protobuf.Empty";

/// Runs every rule over `files` (paths relative to the lint root).
pub(crate) fn check(files: &[(String, &FileDescriptorProto)], config: &Config) -> Vec<Raw> {
    let mut out = Vec::new();
    for (index, (name, file)) in files.iter().enumerate() {
        check_file(index, name, file, config, &mut out);
    }
    check_unique(files, config, &mut out);
    check_responses(files, config, &mut out);
    out
}

fn check_file(
    file_index: usize,
    name: &str,
    file: &FileDescriptorProto,
    config: &Config,
    out: &mut Vec<Raw>,
) {
    let mut push = |rule, path: Vec<i32>, message: String| {
        out.push(Raw {
            rule,
            file: file_index,
            path,
            message,
        });
    };
    let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
    let stem = base.strip_suffix(".proto").unwrap_or(base);
    if !is_lower_snake_case(stem) {
        push(
            "FILE_LOWER_SNAKE_CASE",
            vec![FILE_SYNTAX],
            format!("file name {base:?} should be lower_snake_case.proto"),
        );
    }
    let package = file.package();
    if !package.is_empty() {
        let last = package.rsplit('.').next().unwrap_or(package);
        if !is_version(last) {
            push(
                "PACKAGE_VERSION_SUFFIX",
                vec![FILE_PACKAGE],
                format!("package {package:?} should end in a version such as .v1 or .v1beta1"),
            );
        }
        let want = package.replace('.', "/");
        if dir != want {
            push(
                "PACKAGE_DIRECTORY_MATCH",
                vec![FILE_PACKAGE],
                format!(
                    "files of package {package:?} should be in directory {want:?}, not {:?}",
                    if dir.is_empty() { "." } else { dir }
                ),
            );
        }
    }
    for (i, message) in file.message_type.iter().enumerate() {
        check_message(message, &[FILE_MESSAGE, index(i)], config, &mut push);
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        check_enum(e, &[FILE_ENUM, index(i)], config, &mut push);
    }
    for (i, service) in file.service.iter().enumerate() {
        let base = [FILE_SERVICE, index(i)];
        let service_name = service.name();
        if !is_pascal_case(service_name) {
            push(
                "SERVICE_PASCAL_CASE",
                at(&base, &[NAME]),
                format!("service {service_name:?} should be PascalCase"),
            );
        }
        if !config.service_suffix.is_empty() && !service_name.ends_with(&config.service_suffix) {
            push(
                "SERVICE_SUFFIX",
                at(&base, &[NAME]),
                format!(
                    "service {service_name:?} should end in {:?}",
                    config.service_suffix
                ),
            );
        }
        for (j, method) in service.method.iter().enumerate() {
            let method_path = at(&base, &[SERVICE_METHOD, index(j)]);
            let method_name = method.name();
            if !is_pascal_case(method_name) {
                push(
                    "RPC_PASCAL_CASE",
                    at(&method_path, &[NAME]),
                    format!("rpc {method_name:?} should be PascalCase"),
                );
            }
            // Compared with the PascalCase form, so that a badly cased
            // method is one finding (RPC_PASCAL_CASE), not three.
            let pascal = method_name.to_upper_camel_case();
            let standard = |kind: &str, type_name: &str, allow_empty: bool| {
                let name = simple(type_name);
                allow_empty && type_name == EMPTY
                    || name == format!("{pascal}{kind}")
                    || name == format!("{service_name}{pascal}{kind}")
            };
            if !standard("Request", method.input_type(), config.allow_empty_requests) {
                push(
                    "RPC_REQUEST_STANDARD_NAME",
                    at(&method_path, &[METHOD_INPUT]),
                    format!(
                        "rpc {method_name} takes {}; name it {pascal}Request",
                        simple(method.input_type())
                    ),
                );
            }
            if !standard(
                "Response",
                method.output_type(),
                config.allow_empty_responses,
            ) {
                push(
                    "RPC_RESPONSE_STANDARD_NAME",
                    at(&method_path, &[METHOD_OUTPUT]),
                    format!(
                        "rpc {method_name} returns {}; name it {pascal}Response",
                        simple(method.output_type())
                    ),
                );
            }
        }
    }
}

fn check_message(
    message: &DescriptorProto,
    base: &[i32],
    config: &Config,
    push: &mut impl FnMut(&'static str, Vec<i32>, String),
) {
    let name = message.name();
    if !is_pascal_case(name) {
        push(
            "MESSAGE_PASCAL_CASE",
            at(base, &[NAME]),
            format!("message {name:?} should be PascalCase"),
        );
    }
    for (j, field) in message.field.iter().enumerate() {
        if !is_lower_snake_case(field.name()) {
            push(
                "FIELD_LOWER_SNAKE_CASE",
                at(base, &[MESSAGE_FIELD, index(j), NAME]),
                format!("field {:?} should be lower_snake_case", field.name()),
            );
        }
    }
    for (j, nested) in message.nested_type.iter().enumerate() {
        // Map entries are written by the compiler, not the author.
        if !nested.options.as_ref().is_some_and(|o| o.map_entry()) {
            check_message(nested, &at(base, &[MESSAGE_NESTED, index(j)]), config, push);
        }
    }
    for (j, e) in message.enum_type.iter().enumerate() {
        check_enum(e, &at(base, &[MESSAGE_ENUM, index(j)]), config, push);
    }
}

fn check_enum(
    e: &EnumDescriptorProto,
    base: &[i32],
    config: &Config,
    push: &mut impl FnMut(&'static str, Vec<i32>, String),
) {
    check_enum_names(e, base, push);
    check_enum_zero(e, base, &config.enum_zero_value_suffix, push);
}

fn check_enum_names(
    e: &EnumDescriptorProto,
    base: &[i32],
    push: &mut impl FnMut(&'static str, Vec<i32>, String),
) {
    let name = e.name();
    if !is_pascal_case(name) {
        push(
            "ENUM_PASCAL_CASE",
            at(base, &[NAME]),
            format!("enum {name:?} should be PascalCase"),
        );
    }
    let prefix = format!("{}_", upper_snake(name));
    for (k, value) in e.value.iter().enumerate() {
        let value_name = value.name();
        let path = at(base, &[ENUM_VALUE, index(k), NAME]);
        if !is_upper_snake_case(value_name) {
            push(
                "ENUM_VALUE_UPPER_SNAKE_CASE",
                path.clone(),
                format!("enum value {value_name:?} should be UPPER_SNAKE_CASE"),
            );
        }
        if !value_name.starts_with(&prefix) {
            push(
                "ENUM_VALUE_PREFIX",
                path,
                format!("enum value {value_name:?} should start with {prefix:?}"),
            );
        }
    }
}

fn check_enum_zero(
    e: &EnumDescriptorProto,
    base: &[i32],
    suffix: &str,
    push: &mut impl FnMut(&'static str, Vec<i32>, String),
) {
    let Some(first) = e.value.first() else {
        return;
    };
    if first.number() != 0 {
        push(
            "ENUM_FIRST_VALUE_ZERO",
            at(base, &[ENUM_VALUE, 0, ENUM_VALUE_NUMBER]),
            format!(
                "the first value of enum {} is {}; it should be 0",
                e.name(),
                first.number()
            ),
        );
    } else if !suffix.is_empty() && !first.name().ends_with(suffix) {
        push(
            "ENUM_ZERO_VALUE_SUFFIX",
            at(base, &[ENUM_VALUE, 0, NAME]),
            format!(
                "the zero value of enum {} should end in {suffix:?}, such as {}{suffix}",
                e.name(),
                upper_snake(e.name())
            ),
        );
    }
}

/// Where an RPC uses a message.
struct Use {
    file: usize,
    method_path: Vec<i32>,
    input: bool,
    /// `Service.Method`.
    method: String,
}

/// A message used by more than one RPC, or both ways.
fn check_unique(files: &[(String, &FileDescriptorProto)], config: &Config, out: &mut Vec<Raw>) {
    let mut uses: HashMap<&str, Vec<Use>> = HashMap::new();
    for (f, (_, file)) in files.iter().enumerate() {
        for (i, service) in file.service.iter().enumerate() {
            for (j, method) in service.method.iter().enumerate() {
                let path = vec![FILE_SERVICE, index(i), SERVICE_METHOD, index(j)];
                for (type_name, input, allowed) in [
                    (method.input_type(), true, config.allow_empty_requests),
                    (method.output_type(), false, config.allow_empty_responses),
                ] {
                    if !(allowed && type_name == EMPTY) {
                        uses.entry(type_name).or_default().push(Use {
                            file: f,
                            method_path: path.clone(),
                            input,
                            method: format!("{}.{}", service.name(), method.name()),
                        });
                    }
                }
            }
        }
    }
    let mut shared: Vec<_> = uses.into_iter().filter(|(_, u)| u.len() > 1).collect();
    shared.sort_by(|a, b| a.0.cmp(b.0));
    for (type_name, users) in shared {
        let role = |u: &Use| if u.input { "request" } else { "response" };
        for (n, this) in users.iter().enumerate() {
            let others: Vec<String> = users
                .iter()
                .enumerate()
                .filter(|(m, _)| *m != n)
                .map(|(_, other)| format!("{} ({})", other.method, role(other)))
                .collect();
            out.push(Raw {
                rule: "RPC_REQUEST_RESPONSE_UNIQUE",
                file: this.file,
                // At the rpc, as buf reports it.
                path: this.method_path.clone(),
                message: format!(
                    "{} is the {} of {} and also of {}",
                    simple(type_name),
                    role(this),
                    this.method,
                    others.join(", ")
                ),
            });
        }
    }
}

/// Response messages (defined in the linted files) with error fields.
fn check_responses(files: &[(String, &FileDescriptorProto)], config: &Config, out: &mut Vec<Raw>) {
    let responses: std::collections::HashSet<&str> = files
        .iter()
        .flat_map(|(_, file)| file.service.iter())
        .flat_map(|service| service.method.iter())
        .map(|method| method.output_type())
        .collect();
    for (f, (_, file)) in files.iter().enumerate() {
        let scope = if file.package().is_empty() {
            String::new()
        } else {
            format!(".{}", file.package())
        };
        walk_messages(
            &file.message_type,
            &scope,
            &[FILE_MESSAGE],
            &mut |full, message, path| {
                if !responses.contains(full) {
                    return;
                }
                for (j, field) in message.field.iter().enumerate() {
                    if config.error_field_names.iter().any(|n| n == field.name()) {
                        out.push(Raw {
                        rule: "RESPONSE_NO_ERROR_FIELDS",
                        file: f,
                        path: at(path, &[MESSAGE_FIELD, index(j), NAME]),
                        message: format!(
                            "response {} has field {:?}: return errors as a gRPC status instead",
                            message.name(),
                            field.name()
                        ),
                    });
                    }
                }
            },
        );
    }
}

fn walk_messages<'a>(
    messages: &'a [DescriptorProto],
    scope: &str,
    kind_path: &[i32],
    visit: &mut impl FnMut(&str, &'a DescriptorProto, &[i32]),
) {
    for (i, message) in messages.iter().enumerate() {
        let full = format!("{scope}.{}", message.name());
        let path = at(kind_path, &[index(i)]);
        visit(&full, message, &path);
        walk_messages(
            &message.nested_type,
            &full,
            &at(&path, &[MESSAGE_NESTED]),
            visit,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for good in [
            "v1",
            "v2",
            "v10",
            "v1alpha",
            "v1beta1",
            "v1p1beta1",
            "v1test",
            "v2alpha3test1",
        ] {
            assert!(is_version(good), "{good}");
        }
        for bad in [
            "v0", "v01", "version1", "v", "1", "v1gamma", "v1p1", "api", "v1_beta",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn upper_snake_as_buf_writes_it() {
        for (name, want) in [
            ("PhoneType", "PHONE_TYPE"),
            ("HTTPStatus", "HTTP_STATUS"),
            ("Mode2D", "MODE2D"),
            ("Genre", "GENRE"),
            ("genre_kind", "GENRE_KIND"),
        ] {
            assert_eq!(upper_snake(name), want);
        }
    }

    #[test]
    fn cases() {
        assert!(
            is_pascal_case("GreeterService")
                && !is_pascal_case("greeter")
                && !is_pascal_case("Get_Book")
        );
        assert!(
            is_lower_snake_case("page_size2")
                && !is_lower_snake_case("pageSize")
                && !is_lower_snake_case("a__b")
        );
        assert!(is_upper_snake_case("COLOR_RED_2") && !is_upper_snake_case("Color_RED"));
    }
}
