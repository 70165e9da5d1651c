//! [`Routes`]: the front's table of backends, by service, authority and
//! server name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::peek::FirstRequest;

/// Where connections go: backends (their hand-off sockets) by gRPC service
/// name and by `:authority` for plaintext HTTP/2, by server name (SNI) for
/// TLS.
///
/// ```
/// use std::path::Path;
/// use aqueduct_handoff::route::Routes;
///
/// let routes = Routes::new()
///     .service("notes.v1.Notes", "/run/notes.sock")
///     .server_name("api.example.com", "/run/api.sock")
///     .server_name("*.tenants.example.com", "/run/tenants.sock")
///     .authority("admin.example.com", "/run/admin.sock");
/// let pick = |name| routes.pick_server_name(Some(name));
/// assert_eq!(pick("API.example.com"), Some(Path::new("/run/api.sock")));
/// assert_eq!(pick("acme.tenants.example.com"), Some(Path::new("/run/tenants.sock")));
/// assert_eq!(pick("admin.example.com"), None); // authorities are plaintext routes
/// assert_eq!(pick("tenants.example.com"), None);
/// assert_eq!(routes.pick_server_name(None), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Routes {
    services: HashMap<String, PathBuf>,
    authorities: HashMap<String, PathBuf>,
    /// Exact server names, lower-case.
    server_names: HashMap<String, PathBuf>,
    /// `*.example.com` routes, by the part after `*.`, lower-case.
    wildcards: HashMap<String, PathBuf>,
    /// TLS connections without a server name.
    without_server_name: Option<PathBuf>,
}

impl Routes {
    /// No routes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections whose first request calls `service` (`package.Service`) go
    /// to the backend listening for hand-offs at `backend`.
    #[must_use]
    pub fn service(mut self, service: &str, backend: impl Into<PathBuf>) -> Self {
        self.services.insert(service.to_owned(), backend.into());
        self
    }

    /// Connections whose first request names `authority` (`host` or
    /// `host:port`) go to `backend`. Services are matched first. TLS
    /// connections whose server name matches no [`server_name`](Self::server_name)
    /// route are matched against the `host` entries here (a server name has
    /// no port).
    #[must_use]
    pub fn authority(mut self, authority: &str, backend: impl Into<PathBuf>) -> Self {
        self.authorities
            .insert(authority.to_ascii_lowercase(), backend.into());
        self
    }

    /// TLS connections whose ClientHello names `name` (SNI) go to `backend`,
    /// which terminates TLS itself. Names match whole and case-insensitively;
    /// `*.example.com` matches one label more (`api.example.com`, not
    /// `example.com` nor `a.b.example.com`), and an exact name wins over it.
    #[must_use]
    pub fn server_name(mut self, name: &str, backend: impl Into<PathBuf>) -> Self {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => self.wildcards.insert(parent.to_owned(), backend.into()),
            None => self.server_names.insert(name, backend.into()),
        };
        self
    }

    /// TLS connections that name no server (clients that dial an IP address
    /// send none) go to `backend`. Without this route they are refused.
    #[must_use]
    pub fn without_server_name(mut self, backend: impl Into<PathBuf>) -> Self {
        self.without_server_name = Some(backend.into());
        self
    }

    /// The backend for a plaintext connection whose first request is `first`:
    /// by service, then by authority as sent, then by its host without the
    /// port.
    #[must_use]
    pub fn pick(&self, first: &FirstRequest) -> Option<&Path> {
        if let Some(backend) = first.service().and_then(|s| self.services.get(s)) {
            return Some(backend);
        }
        let authority = first.authority.as_deref()?.to_ascii_lowercase();
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority.as_str(), |(host, _)| host);
        self.authorities
            .get(&authority)
            .or_else(|| self.authorities.get(host))
            .map(PathBuf::as_path)
    }

    /// The backend for a TLS connection whose ClientHello names
    /// `server_name`: by exact name, then by wildcard; with no name, the
    /// [`without_server_name`](Self::without_server_name) backend. The
    /// authority and service tables are not consulted: they name plaintext
    /// backends, and a TLS connection handed to one would fail there with a
    /// protocol error instead of the front's `unrecognized_name`.
    #[must_use]
    pub fn pick_server_name(&self, server_name: Option<&str>) -> Option<&Path> {
        let Some(name) = server_name else {
            return self.without_server_name.as_deref();
        };
        let name = name.to_ascii_lowercase();
        let wildcard = || {
            let (_, parent) = name.split_once('.')?;
            self.wildcards.get(parent)
        };
        self.server_names
            .get(&name)
            .or_else(wildcard)
            .map(PathBuf::as_path)
    }

    /// Every backend named, some more than once.
    pub(super) fn backends(&self) -> impl Iterator<Item = &PathBuf> {
        self.services
            .values()
            .chain(self.authorities.values())
            .chain(self.server_names.values())
            .chain(self.wildcards.values())
            .chain(&self.without_server_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(path: &str, authority: Option<&str>) -> FirstRequest {
        FirstRequest {
            path: path.into(),
            authority: authority.map(str::to_owned),
            stream_id: 1,
        }
    }

    #[test]
    fn services_first_then_authority_then_host() {
        let routes = Routes::new()
            .service("notes.v1.Notes", "/n.sock")
            .authority("Api.Example:443", "/a443.sock")
            .authority("api.example", "/a.sock");
        let pick = |path, authority| routes.pick(&first(path, authority)).map(Path::to_path_buf);
        assert_eq!(
            pick("/notes.v1.Notes/GetNote", Some("api.example:443")),
            Some("/n.sock".into())
        );
        assert_eq!(
            pick("/x.v1.X/Call", Some("api.example:443")),
            Some("/a443.sock".into())
        );
        assert_eq!(
            pick("/x.v1.X/Call", Some("API.example:8080")),
            Some("/a.sock".into())
        );
        assert_eq!(pick("/x.v1.X/Call", Some("other:443")), None);
        assert_eq!(pick("/x.v1.X/Call", None), None);
    }

    #[test]
    fn server_names_exact_then_wildcard_never_authority() {
        let routes = Routes::new()
            .server_name("API.example.com", "/api.sock")
            .server_name("*.example.com", "/any.sock")
            .server_name("*.Deep.Example.com", "/deep.sock")
            .authority("legacy.internal", "/legacy.sock")
            .authority("ported.internal:443", "/ported.sock")
            .service("legacy.internal", "/service.sock");
        let pick = |name| routes.pick_server_name(Some(name)).map(Path::to_path_buf);
        assert_eq!(pick("api.example.com"), Some("/api.sock".into()));
        assert_eq!(pick("Api.Example.Com"), Some("/api.sock".into()));
        assert_eq!(pick("www.example.com"), Some("/any.sock".into()));
        assert_eq!(pick("x.deep.example.com"), Some("/deep.sock".into()));
        // One label only, and not the parent itself.
        assert_eq!(pick("a.b.example.com"), None);
        assert_eq!(pick("example.com"), None);
        assert_eq!(pick("com"), None);
        // Authorities and services name plaintext backends, not TLS ones.
        assert_eq!(pick("legacy.internal"), None);
        assert_eq!(pick("ported.internal"), None);
        assert_eq!(pick("other.test"), None);
        assert_eq!(routes.pick_server_name(None), None);
        let with_default = routes.clone().without_server_name("/default.sock");
        assert_eq!(
            with_default.pick_server_name(None),
            Some(Path::new("/default.sock"))
        );
        // The default is for no name, not for unknown names.
        assert_eq!(with_default.pick_server_name(Some("other.test")), None);
    }

    #[test]
    fn every_backend_gets_a_channel() {
        let routes = Routes::new()
            .service("a.A", "/1")
            .authority("b", "/2")
            .server_name("c", "/3")
            .server_name("*.d", "/4")
            .without_server_name("/5");
        let mut backends: Vec<_> = routes.backends().collect();
        backends.sort();
        assert_eq!(
            backends,
            ["/1", "/2", "/3", "/4", "/5"]
                .map(PathBuf::from)
                .iter()
                .collect::<Vec<_>>()
        );
    }
}
