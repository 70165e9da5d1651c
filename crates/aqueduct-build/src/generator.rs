//! Writes the Rust source for each service.
//!
//! Generated code names runtime items only through `::aqueduct::codegen`, the one
//! seam between generated code and the runtime; prost-build's part names prost
//! and the well-known types through it too (`Builder::compile` sets the paths).

use std::fmt::Write as _;

use prost_build::{Method, Service};

pub(crate) struct ServiceGenerator {
    pub(crate) build_server: bool,
    pub(crate) build_client: bool,
}

impl prost_build::ServiceGenerator for ServiceGenerator {
    fn generate(&mut self, service: Service, buf: &mut String) {
        if self.build_server {
            server(&service, buf);
        }
        if self.build_client {
            client(&service, buf);
        }
    }
}

const CG: &str = "::aqueduct::codegen";

/// The Rust type of a message, seen from a module one level below the package's.
fn rust_type(ty: &str) -> String {
    if ty == "()" || ty.starts_with("::") {
        ty.to_owned()
    } else {
        format!("super::{ty}")
    }
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i != 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn full_name(service: &Service) -> String {
    if service.package.is_empty() {
        service.proto_name.clone()
    } else {
        format!("{}.{}", service.package, service.proto_name)
    }
}

fn path(service: &Service, method: &Method) -> String {
    format!("/{}/{}", full_name(service), method.proto_name)
}

fn doc(buf: &mut String, method: &Method) {
    let mut comments = String::new();
    method.comments.append_with_indent(1, &mut comments);
    buf.push_str(&comments);
}

/// A handler's parameters after the receiver, and its return type, with every
/// name spelled out in full: generated names (services, the method marker
/// structs) come from the proto and may be `Send`, `Status`, `Result`...
fn signature(m: &Method, req: &str, resp: &str) -> (String, String) {
    let request = if m.client_streaming {
        format!("request: {CG}::Request<{CG}::Streaming<{req}>>")
    } else {
        format!("request: {CG}::Request<{req}>")
    };
    let (params, output) = if m.server_streaming {
        (
            format!("{request}, responses: &mut {CG}::ServerSink<{resp}>"),
            "()".to_owned(),
        )
    } else {
        (request, format!("{CG}::Response<{resp}>"))
    };
    (
        params,
        format!(
            "impl ::core::future::Future<Output = ::core::result::Result<{output}, {CG}::Status>> + ::core::marker::Send"
        ),
    )
}

fn server(service: &Service, buf: &mut String) {
    let name = &service.name;
    let module = format!("{}_server", snake(name));
    let full = full_name(service);
    let _ = writeln!(
        buf,
        "/// Server side of `{full}`: the trait to implement and its adapter."
    );
    let _ = writeln!(buf, "pub mod {module} {{");
    let _ = writeln!(buf, "#![allow(clippy::all)]");
    let _ = writeln!(buf);
    let mut trait_doc = String::new();
    service.comments.append_with_indent(0, &mut trait_doc);
    if trait_doc.trim().is_empty() {
        let _ = writeln!(buf, "/// The `{full}` service.");
    } else {
        buf.push_str(&trait_doc);
    }
    let _ = writeln!(
        buf,
        "pub trait {name}: ::core::marker::Send + ::core::marker::Sync + 'static {{"
    );
    for m in &service.methods {
        let (params, output) = signature(m, &rust_type(&m.input_type), &rust_type(&m.output_type));
        doc(buf, m);
        let _ = writeln!(buf, "fn {}(&self, {params}) -> {output};", m.name);
    }
    let _ = writeln!(buf, "}}");
    let _ = writeln!(buf);
    let _ = writeln!(
        buf,
        "/// Mounts a [`{name}`] implementation on an `aqueduct::Server`."
    );
    let _ = writeln!(buf, "#[derive(::core::fmt::Debug)]");
    let _ = writeln!(
        buf,
        "pub struct {name}Server<T> {{ inner: ::std::sync::Arc<T> }}"
    );
    let _ = writeln!(buf, "impl<T: {name}> {name}Server<T> {{");
    let _ = writeln!(buf, "    /// Wraps an implementation.");
    let _ = writeln!(
        buf,
        "    pub fn new(inner: T) -> Self {{ Self {{ inner: ::std::sync::Arc::new(inner) }} }}"
    );
    let _ = writeln!(
        buf,
        "    /// Wraps an implementation that is shared elsewhere too."
    );
    let _ = writeln!(
        buf,
        "    pub fn from_arc(inner: ::std::sync::Arc<T>) -> Self {{ Self {{ inner }} }}"
    );
    let _ = writeln!(buf, "}}");
    let _ = writeln!(
        buf,
        "impl<T> ::core::clone::Clone for {name}Server<T> {{ fn clone(&self) -> Self {{ Self {{ inner: ::std::sync::Arc::clone(&self.inner) }} }} }}"
    );
    let _ = writeln!(buf, "impl<T: {name}> {CG}::Service for {name}Server<T> {{");
    let _ = writeln!(buf, "    const NAME: &'static str = \"{full}\";");
    // Relative to this generated file, which sits next to the descriptor set
    // wherever the build wrote both.
    let _ = writeln!(
        buf,
        "    const FILE_DESCRIPTOR_SET: &'static [u8] = include_bytes!(\"{}\");",
        crate::FILE_DESCRIPTOR_SET
    );
    let _ = writeln!(
        buf,
        "    fn routes(&self) -> ::std::vec::Vec<{CG}::Route> {{"
    );
    let _ = writeln!(buf, "        ::std::vec![");
    for m in &service.methods {
        let kind = kind_fn(m);
        let _ = writeln!(
            buf,
            "            {CG}::{kind}::<T, methods::{}>(\"{}\", ::std::sync::Arc::clone(&self.inner)),",
            m.proto_name,
            path(service, m)
        );
    }
    let _ = writeln!(buf, "        ]");
    let _ = writeln!(buf, "    }}");
    let _ = writeln!(buf, "}}");
    let _ = writeln!(buf, "mod methods {{");
    // The marker structs carry the proto's method names.
    let _ = writeln!(buf, "    #![allow(non_camel_case_types)]");
    for m in &service.methods {
        let req = rust_type(&rust_type(&m.input_type));
        let resp = rust_type(&rust_type(&m.output_type));
        let pname = &m.proto_name;
        let fname = &m.name;
        let _ = writeln!(buf, "    pub(super) struct {pname};");
        let trait_name = match (m.client_streaming, m.server_streaming) {
            (false, false) => "UnaryMethod",
            (false, true) => "ServerStreamingMethod",
            (true, false) => "ClientStreamingMethod",
            (true, true) => "BidiStreamingMethod",
        };
        let call = if m.server_streaming {
            "request, responses"
        } else {
            "request"
        };
        let (params, output) = signature(m, &req, &resp);
        let _ = writeln!(
            buf,
            "    impl<T: super::{name}> {CG}::{trait_name}<T> for {pname} {{"
        );
        let _ = writeln!(buf, "        type Request = {req};");
        let _ = writeln!(buf, "        type Response = {resp};");
        let _ = writeln!(
            buf,
            "        fn call(svc: &T, {params}) -> {output} {{ svc.{fname}({call}) }}"
        );
        let _ = writeln!(buf, "    }}");
    }
    let _ = writeln!(buf, "}}");
    let _ = writeln!(buf, "}}");
}

fn kind_fn(m: &Method) -> &'static str {
    match (m.client_streaming, m.server_streaming) {
        (false, false) => "unary",
        (false, true) => "server_streaming",
        (true, false) => "client_streaming",
        (true, true) => "bidi_streaming",
    }
}

fn client(service: &Service, buf: &mut String) {
    let name = &service.name;
    let module = format!("{}_client", snake(name));
    let full = full_name(service);
    let _ = writeln!(buf, "/// Client side of `{full}`.");
    let _ = writeln!(buf, "pub mod {module} {{");
    let _ = writeln!(buf, "#![allow(unused_imports, clippy::all)]");
    let _ = writeln!(
        buf,
        "use {CG}::{{BidiCall, CallOptions, Channel, ClientStreamingCall, IntoRequest, Response, Status, Streaming}};"
    );
    let _ = writeln!(buf);
    let _ = writeln!(
        buf,
        "/// A client for `{full}`. Cheap to clone; clones share the channel's connection."
    );
    let _ = writeln!(buf, "#[derive(Debug, Clone)]");
    let _ = writeln!(buf, "pub struct {name}Client {{ channel: Channel }}");
    let _ = writeln!(buf, "impl {name}Client {{");
    let _ = writeln!(buf, "    /// A client that makes its calls on `channel`.");
    let _ = writeln!(
        buf,
        "    pub fn new(channel: Channel) -> Self {{ Self {{ channel }} }}"
    );
    let _ = writeln!(buf, "    /// The channel this client uses.");
    let _ = writeln!(
        buf,
        "    pub fn channel(&self) -> &Channel {{ &self.channel }}"
    );
    for m in &service.methods {
        let req = rust_type(&m.input_type);
        let resp = rust_type(&m.output_type);
        let fname = &m.name;
        let p = path(service, m);
        doc(buf, m);
        match (m.client_streaming, m.server_streaming) {
            (false, false) => {
                let _ = writeln!(
                    buf,
                    "pub async fn {fname}(&self, request: impl IntoRequest<{req}>) -> Result<Response<{resp}>, Status> {{ self.channel.unary(\"{p}\", request.into_request()).await }}"
                );
            }
            (false, true) => {
                let _ = writeln!(
                    buf,
                    "pub async fn {fname}(&self, request: impl IntoRequest<{req}>) -> Result<Streaming<{resp}>, Status> {{ self.channel.server_streaming(\"{p}\", request.into_request()).await }}"
                );
            }
            (true, false) => {
                let _ = writeln!(
                    buf,
                    "pub async fn {fname}(&self, options: CallOptions) -> Result<ClientStreamingCall<{req}, {resp}>, Status> {{ self.channel.client_streaming(\"{p}\", options).await }}"
                );
            }
            (true, true) => {
                let _ = writeln!(
                    buf,
                    "pub async fn {fname}(&self, options: CallOptions) -> Result<BidiCall<{req}, {resp}>, Status> {{ self.channel.bidi_streaming(\"{p}\", options).await }}"
                );
            }
        }
    }
    let _ = writeln!(buf, "}}");
    let _ = writeln!(buf, "}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("RouteGuide"), "route_guide");
        assert_eq!(snake("Greeter"), "greeter");
        assert_eq!(rust_type("HelloRequest"), "super::HelloRequest");
        let timestamp = "::aqueduct::codegen::prost_types::Timestamp";
        assert_eq!(rust_type(timestamp), timestamp);
        assert_eq!(rust_type("()"), "()");
    }
}
