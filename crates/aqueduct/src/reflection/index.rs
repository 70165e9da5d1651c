//! The descriptor index reflection answers from, built once when the server
//! starts from the descriptor sets of the services mounted on it.
//!
//! Each file is kept as the encoded `FileDescriptorProto` it arrived as (a
//! slice of the service's static set: nothing is re-encoded, no unknown field
//! is lost); only the parts reflection looks things up by are decoded.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use prost::Message as _;

use super::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
    ServiceResponse,
};
use crate::Code;

/// What reflection knows: the mounted services and the files describing them.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Mounted services, sorted.
    services: Vec<String>,
    files: Vec<File>,
    by_name: HashMap<String, usize>,
    /// Fully qualified symbol (no leading dot) -> where it is declared.
    symbols: HashMap<String, Symbol>,
    /// Extended message -> extension number -> file declaring the extension.
    extensions: HashMap<String, BTreeMap<i32, usize>>,
}

#[derive(Debug)]
struct File {
    raw: Bytes,
    /// The names of the files it imports; those the index holds are sent
    /// with it.
    imports: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
struct Symbol {
    file: usize,
    is_message: bool,
}

impl Index {
    /// Indexes each service's own file and its transitive imports, from the
    /// service's encoded `FileDescriptorSet`, then every file of each set in
    /// `standalone` (files served whatever is mounted, such as the error
    /// details). Files with the same name are kept once (the first seen), so
    /// a service's own copy of a standalone file wins.
    pub(crate) fn build<'a>(
        services: impl IntoIterator<Item = (&'a str, &'static [u8])>,
        standalone: &[&'static [u8]],
    ) -> Self {
        let mut index = Self::default();
        for (service, set) in services {
            index.services.push(service.to_owned());
            let files = match decode_set(set) {
                Ok(files) => files,
                Err(e) => {
                    tracing::warn!(service, error = %e, "reflection: the service's descriptor set does not decode; it cannot be described");
                    continue;
                }
            };
            let Some(declaring) = files.iter().position(|(_, head)| head.declares(service)) else {
                tracing::warn!(
                    service,
                    "reflection: no descriptors declare this service (written by hand?); it is listed but cannot be described"
                );
                continue;
            };
            for i in closure_by_name(&files, declaring) {
                let Some((raw, head)) = files.get(i) else {
                    continue;
                };
                if let Some(&kept) = index.by_name.get(&head.name) {
                    if index.files.get(kept).is_some_and(|f| f.raw != *raw) {
                        tracing::warn!(
                            service,
                            file = head.name,
                            "reflection: two mounted services bring different versions of this file; the first one is served"
                        );
                    }
                    continue;
                }
                index.add_file(raw.clone(), head);
            }
        }
        for set in standalone {
            match decode_set(set) {
                Ok(files) => {
                    for (raw, head) in &files {
                        if !index.by_name.contains_key(&head.name) {
                            index.add_file(raw.clone(), head);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reflection: a bundled descriptor set does not decode")
                }
            }
        }
        index.services.sort();
        index.services.dedup();
        index
    }

    fn add_file(&mut self, raw: Bytes, head: &FileHead) {
        let at = self.files.len();
        self.by_name.insert(head.name.clone(), at);
        self.files.push(File {
            raw,
            imports: head.dependency.clone(),
        });
        self.add_symbols(at, head);
    }

    fn add_symbols(&mut self, file: usize, head: &FileHead) {
        let scope = head.package.as_str();
        for message in &head.message_type {
            self.add_message(file, scope, message);
        }
        for e in &head.enum_type {
            self.add_enum(file, scope, e);
        }
        for ext in &head.extension {
            self.add_extension(file, scope, ext);
        }
        for service in &head.service {
            let name = qualify(scope, &service.name);
            for method in &service.method {
                self.add_symbol(qualify(&name, &method.name), file, false);
            }
            self.add_symbol(name, file, false);
        }
    }

    fn add_message(&mut self, file: usize, scope: &str, message: &MessageHead) {
        let name = qualify(scope, &message.name);
        let fields = message.field.iter().map(|f| &f.name);
        for field in fields.chain(message.oneof_decl.iter().map(|o| &o.name)) {
            self.add_symbol(qualify(&name, field), file, false);
        }
        for nested in &message.nested_type {
            self.add_message(file, &name, nested);
        }
        for e in &message.enum_type {
            self.add_enum(file, &name, e);
        }
        for ext in &message.extension {
            self.add_extension(file, &name, ext);
        }
        self.add_symbol(name, file, true);
    }

    fn add_enum(&mut self, file: usize, scope: &str, e: &EnumHead) {
        // Enum values are scoped like siblings of their enum, as in C++.
        for value in &e.value {
            self.add_symbol(qualify(scope, &value.name), file, false);
        }
        self.add_symbol(qualify(scope, &e.name), file, false);
    }

    fn add_extension(&mut self, file: usize, scope: &str, ext: &FieldHead) {
        let extendee = ext.extendee.trim_start_matches('.').to_owned();
        self.extensions
            .entry(extendee)
            .or_default()
            .entry(ext.number)
            .or_insert(file);
        self.add_symbol(qualify(scope, &ext.name), file, false);
    }

    fn add_symbol(&mut self, name: String, file: usize, is_message: bool) {
        self.symbols
            .entry(name)
            .or_insert(Symbol { file, is_message });
    }

    /// The response to one request.
    pub(crate) fn answer(&self, request: ServerReflectionRequest) -> ServerReflectionResponse {
        let answer = match &request.message_request {
            Some(MessageRequest::ListServices(_)) => {
                Ok(MessageResponse::ListServicesResponse(ListServiceResponse {
                    service: self
                        .services
                        .iter()
                        .map(|name| ServiceResponse { name: name.clone() })
                        .collect(),
                }))
            }
            Some(MessageRequest::FileByFilename(name)) => self
                .by_name
                .get(name)
                .map(|&file| self.files(file))
                .ok_or_else(|| format!("no file named {name:?}")),
            Some(MessageRequest::FileContainingSymbol(symbol)) => self
                .symbol(symbol)
                .map(|s| self.files(s.file))
                .ok_or_else(|| format!("no symbol {symbol:?}")),
            Some(MessageRequest::FileContainingExtension(ext)) => self
                .extensions
                .get(ext.containing_type.trim_start_matches('.'))
                .and_then(|numbers| numbers.get(&ext.extension_number))
                .map(|&file| self.files(file))
                .ok_or_else(|| {
                    format!(
                        "no extension {} of {:?}",
                        ext.extension_number, ext.containing_type
                    )
                }),
            Some(MessageRequest::AllExtensionNumbersOfType(name)) => match self.symbol(name) {
                Some(s) if s.is_message => Ok(MessageResponse::AllExtensionNumbersResponse(
                    ExtensionNumberResponse {
                        base_type_name: name.trim_start_matches('.').to_owned(),
                        extension_number: self
                            .extensions
                            .get(name.trim_start_matches('.'))
                            .map(|numbers| numbers.keys().copied().collect())
                            .unwrap_or_default(),
                    },
                )),
                _ => Err(format!("no message type {name:?}")),
            },
            None => Err("the request asks nothing (no message_request set)".to_owned()),
        };
        let message_response = answer.unwrap_or_else(|error_message| {
            let error_code = if request.message_request.is_some() {
                Code::NotFound
            } else {
                Code::InvalidArgument
            };
            MessageResponse::ErrorResponse(ErrorResponse {
                error_code: error_code as i32,
                error_message,
            })
        });
        ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(message_response),
        }
    }

    fn symbol(&self, name: &str) -> Option<Symbol> {
        self.symbols.get(name.trim_start_matches('.')).copied()
    }

    /// `file` then its transitive imports, each once.
    fn files(&self, file: usize) -> MessageResponse {
        let reached = reachable(file, |i| {
            let imports = self.files.get(i).map_or(&[][..], |f| &f.imports);
            imports
                .iter()
                .filter_map(|name| self.by_name.get(name).copied())
                .collect()
        });
        MessageResponse::FileDescriptorResponse(FileDescriptorResponse {
            file_descriptor_proto: reached
                .into_iter()
                .filter_map(|i| self.files.get(i).map(|f| f.raw.clone()))
                .collect(),
        })
    }
}

/// `root`, then every node reachable through `next`, each once, depth first
/// in the order `next` gives them.
fn reachable(root: usize, next: impl Fn(usize) -> Vec<usize>) -> Vec<usize> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    let mut out = Vec::new();
    while let Some(i) = stack.pop() {
        if seen.insert(i) {
            out.push(i);
            stack.extend(next(i).into_iter().rev());
        }
    }
    out
}

fn qualify(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

/// The files of an encoded `FileDescriptorSet`, each encoded as it came and
/// with the parts the index needs decoded.
fn decode_set(set: &'static [u8]) -> Result<Vec<(Bytes, FileHead)>, prost::DecodeError> {
    RawSet::decode(Bytes::from_static(set))?
        .file
        .into_iter()
        .map(|raw| Ok((raw.clone(), FileHead::decode(raw)?)))
        .collect()
}

/// `files[root]` and every file it imports, transitively, by index into `files`.
fn closure_by_name(files: &[(Bytes, FileHead)], root: usize) -> Vec<usize> {
    reachable(root, |i| {
        let imports = files.get(i).map_or(&[][..], |(_, head)| &head.dependency);
        imports
            .iter()
            .filter_map(|dep| files.iter().position(|(_, h)| &h.name == dep))
            .collect()
    })
}

// The parts of `google.protobuf.FileDescriptorSet` and its messages that the
// index reads; prost skips every other field.

#[derive(Clone, PartialEq, prost::Message)]
struct RawSet {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    package: String,
    #[prost(string, repeated, tag = "3")]
    dependency: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<MessageHead>,
    #[prost(message, repeated, tag = "5")]
    enum_type: Vec<EnumHead>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<ServiceHead>,
    #[prost(message, repeated, tag = "7")]
    extension: Vec<FieldHead>,
}

impl FileHead {
    fn declares(&self, service: &str) -> bool {
        self.service
            .iter()
            .any(|s| qualify(&self.package, &s.name) == service)
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct MessageHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    field: Vec<FieldHead>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<MessageHead>,
    #[prost(message, repeated, tag = "4")]
    enum_type: Vec<EnumHead>,
    #[prost(message, repeated, tag = "6")]
    extension: Vec<FieldHead>,
    #[prost(message, repeated, tag = "8")]
    oneof_decl: Vec<Named>,
}

/// A field or an extension (`FieldDescriptorProto`).
#[derive(Clone, PartialEq, prost::Message)]
struct FieldHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    extendee: String,
    #[prost(int32, tag = "3")]
    number: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct EnumHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    value: Vec<Named>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ServiceHead {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    method: Vec<Named>,
}

/// Any descriptor with its name at tag 1 (method, enum value, oneof); only
/// the name is read, whatever the other fields are.
#[derive(Clone, PartialEq, prost::Message)]
struct Named {
    #[prost(string, tag = "1")]
    name: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use prost_types::{
        DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
        FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, OneofDescriptorProto,
        ServiceDescriptorProto,
    };

    use super::*;
    use crate::reflection::ExtensionRequest;

    fn named_field(name: &str, number: i32) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            ..Default::default()
        }
    }

    /// `base.proto` (package `t`): message `Base` with a nested enum, a oneof
    /// and extension range; `svc.proto` imports it and declares `t.Svc` and an
    /// extension of `Base`. `unused.proto` is in the set but not imported.
    fn set() -> &'static [u8] {
        let base = FileDescriptorProto {
            name: Some("t/base.proto".into()),
            package: Some("t".into()),
            message_type: vec![DescriptorProto {
                name: Some("Base".into()),
                field: vec![named_field("id", 1)],
                enum_type: vec![EnumDescriptorProto {
                    name: Some("Kind".into()),
                    value: vec![EnumValueDescriptorProto {
                        name: Some("KIND_A".into()),
                        number: Some(0),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                oneof_decl: vec![OneofDescriptorProto {
                    name: Some("choice".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let svc = FileDescriptorProto {
            name: Some("t/svc.proto".into()),
            package: Some("t".into()),
            dependency: vec!["t/base.proto".into()],
            extension: vec![FieldDescriptorProto {
                extendee: Some(".t.Base".into()),
                ..named_field("extra", 100)
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("Svc".into()),
                method: vec![MethodDescriptorProto {
                    name: Some("Get".into()),
                    input_type: Some(".t.Base".into()),
                    output_type: Some(".t.Base".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let unused = FileDescriptorProto {
            name: Some("t/unused.proto".into()),
            package: Some("t".into()),
            message_type: vec![DescriptorProto {
                name: Some("Unused".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![base, svc, unused],
        };
        Box::leak(set.encode_to_vec().into_boxed_slice())
    }

    fn index() -> Index {
        Index::build([("t.Svc", set()), ("hand.v1.Written", &[][..])], &[])
    }

    fn ask(index: &Index, request: MessageRequest) -> MessageResponse {
        let response = index.answer(ServerReflectionRequest {
            host: "h".into(),
            message_request: Some(request.clone()),
        });
        assert_eq!(response.valid_host, "h");
        assert_eq!(
            response.original_request.unwrap().message_request,
            Some(request)
        );
        response.message_response.unwrap()
    }

    fn file_names(response: MessageResponse) -> Vec<String> {
        let MessageResponse::FileDescriptorResponse(files) = response else {
            panic!("not files: {response:?}");
        };
        files
            .file_descriptor_proto
            .into_iter()
            .map(|raw| FileHead::decode(raw).unwrap().name)
            .collect()
    }

    fn error_code(response: MessageResponse) -> Code {
        let MessageResponse::ErrorResponse(error) = response else {
            panic!("not an error: {response:?}");
        };
        Code::from_i32(error.error_code)
    }

    #[test]
    fn lists_every_mounted_service_sorted_even_without_descriptors() {
        let MessageResponse::ListServicesResponse(list) =
            ask(&index(), MessageRequest::ListServices(String::new()))
        else {
            panic!("not a service list");
        };
        let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["hand.v1.Written", "t.Svc"]);
    }

    #[test]
    fn a_file_comes_first_then_its_imports() {
        let index = index();
        let by_name = ask(&index, MessageRequest::FileByFilename("t/svc.proto".into()));
        assert_eq!(file_names(by_name), ["t/svc.proto", "t/base.proto"]);
        let base = ask(
            &index,
            MessageRequest::FileByFilename("t/base.proto".into()),
        );
        assert_eq!(file_names(base), ["t/base.proto"]);
    }

    #[test]
    fn only_the_files_a_mounted_service_reaches_are_served() {
        let unused = ask(
            &index(),
            MessageRequest::FileByFilename("t/unused.proto".into()),
        );
        assert_eq!(error_code(unused), Code::NotFound);
    }

    #[test]
    fn every_kind_of_symbol_resolves_to_its_file() {
        let index = index();
        for (symbol, file) in [
            ("t.Svc", "t/svc.proto"),
            ("t.Svc.Get", "t/svc.proto"),
            (".t.Svc", "t/svc.proto"),
            ("t.extra", "t/svc.proto"),
            ("t.Base", "t/base.proto"),
            ("t.Base.id", "t/base.proto"),
            ("t.Base.choice", "t/base.proto"),
            ("t.Base.Kind", "t/base.proto"),
            ("t.Base.KIND_A", "t/base.proto"),
        ] {
            let names = file_names(ask(
                &index,
                MessageRequest::FileContainingSymbol(symbol.into()),
            ));
            assert_eq!(names.first().map(String::as_str), Some(file), "{symbol}");
        }
        let missing = ask(
            &index,
            MessageRequest::FileContainingSymbol("t.Nope".into()),
        );
        assert_eq!(error_code(missing), Code::NotFound);
        let hand_written = ask(
            &index,
            MessageRequest::FileContainingSymbol("hand.v1.Written".into()),
        );
        assert_eq!(error_code(hand_written), Code::NotFound);
    }

    #[test]
    fn extensions_by_number_and_all_numbers_of_a_type() {
        let index = index();
        let found = ask(
            &index,
            MessageRequest::FileContainingExtension(ExtensionRequest {
                containing_type: "t.Base".into(),
                extension_number: 100,
            }),
        );
        assert_eq!(file_names(found)[0], "t/svc.proto");
        let missing = ask(
            &index,
            MessageRequest::FileContainingExtension(ExtensionRequest {
                containing_type: "t.Base".into(),
                extension_number: 101,
            }),
        );
        assert_eq!(error_code(missing), Code::NotFound);
        let MessageResponse::AllExtensionNumbersResponse(numbers) = ask(
            &index,
            MessageRequest::AllExtensionNumbersOfType(".t.Base".into()),
        ) else {
            panic!("not extension numbers");
        };
        assert_eq!(numbers.base_type_name, "t.Base");
        assert_eq!(numbers.extension_number, [100]);
        // Not a message: a service, or nothing at all.
        for name in ["t.Svc", "t.Nope"] {
            let response = ask(
                &index,
                MessageRequest::AllExtensionNumbersOfType(name.into()),
            );
            assert_eq!(error_code(response), Code::NotFound, "{name}");
        }
    }

    #[test]
    fn a_request_asking_nothing_is_invalid() {
        let response = index().answer(ServerReflectionRequest::default());
        assert_eq!(
            error_code(response.message_response.unwrap()),
            Code::InvalidArgument
        );
    }

    #[test]
    fn undecodable_descriptor_sets_are_listed_not_indexed() {
        let mut junk = vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f];
        junk.extend_from_slice(b"not a descriptor");
        let junk: &'static [u8] = Box::leak(junk.into_boxed_slice());
        let index = Index::build([("j.Junk", junk)], &[]);
        assert_eq!(index.services, ["j.Junk"]);
        assert!(index.files.is_empty());
    }

    #[test]
    fn standalone_files_are_served_with_their_imports_whatever_is_mounted() {
        let index = Index::build([], &[crate::details::FILE_DESCRIPTOR_SET]);
        assert!(index.services.is_empty());
        for (symbol, files) in [
            (
                "google.rpc.ErrorInfo",
                &[
                    "google/rpc/error_details.proto",
                    "google/protobuf/duration.proto",
                ][..],
            ),
            (
                "google.rpc.BadRequest.FieldViolation.localized_message",
                &[
                    "google/rpc/error_details.proto",
                    "google/protobuf/duration.proto",
                ],
            ),
            (
                "google.rpc.Status",
                &["google/rpc/status.proto", "google/protobuf/any.proto"],
            ),
        ] {
            let names = file_names(ask(
                &index,
                MessageRequest::FileContainingSymbol(symbol.into()),
            ));
            assert_eq!(names, files, "{symbol}");
        }
    }

    #[test]
    fn a_mounted_services_copy_of_a_standalone_file_wins() {
        // A service whose set declares its own t/base.proto; the standalone
        // set brings another t/base.proto (with a different message) and a
        // file of its own.
        let other_base = FileDescriptorProto {
            name: Some("t/base.proto".into()),
            package: Some("t".into()),
            message_type: vec![DescriptorProto {
                name: Some("NotBase".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let extra = FileDescriptorProto {
            name: Some("t/extra.proto".into()),
            package: Some("t".into()),
            dependency: vec!["t/base.proto".into()],
            ..Default::default()
        };
        let standalone = FileDescriptorSet {
            file: vec![other_base, extra],
        };
        let standalone: &'static [u8] = Box::leak(standalone.encode_to_vec().into_boxed_slice());
        let index = Index::build([("t.Svc", set())], &[standalone]);
        let extra = ask(
            &index,
            MessageRequest::FileByFilename("t/extra.proto".into()),
        );
        assert_eq!(file_names(extra), ["t/extra.proto", "t/base.proto"]);
        let base = ask(
            &index,
            MessageRequest::FileContainingSymbol("t.Base".into()),
        );
        assert_eq!(file_names(base), ["t/base.proto"]);
        let not_base = ask(
            &index,
            MessageRequest::FileContainingSymbol("t.NotBase".into()),
        );
        assert_eq!(error_code(not_base), Code::NotFound);
    }

    #[test]
    fn the_bundled_standard_services_describe_themselves() {
        use crate::Service;
        use crate::health::HealthServer;
        use crate::reflection::{V1, V1Alpha};
        let index = Index::build(
            [
                (HealthServer::NAME, HealthServer::FILE_DESCRIPTOR_SET),
                (V1::NAME, V1::FILE_DESCRIPTOR_SET),
                (V1Alpha::NAME, V1Alpha::FILE_DESCRIPTOR_SET),
            ],
            &[],
        );
        for (symbol, file) in [
            ("grpc.health.v1.Health.Watch", "grpc/health/v1/health.proto"),
            (
                "grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN",
                "grpc/health/v1/health.proto",
            ),
            (
                "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
                "grpc/reflection/v1/reflection.proto",
            ),
            (
                "grpc.reflection.v1alpha.ServerReflectionRequest.file_containing_symbol",
                "grpc/reflection/v1alpha/reflection.proto",
            ),
        ] {
            let names = file_names(ask(
                &index,
                MessageRequest::FileContainingSymbol(symbol.into()),
            ));
            assert_eq!(names, [file], "{symbol}");
        }
    }
}
