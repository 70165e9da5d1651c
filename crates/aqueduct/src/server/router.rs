//! Exact-match routing from `:path` to a method handler.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::codegen::{Handler, Route};
use crate::status::Status;

/// Maps `/package.Service/Method` to its handler. Lookups are exact string matches
/// on the raw `:path`; anything else gets `UNIMPLEMENTED` before user code runs.
#[derive(Default)]
pub(crate) struct Router {
    methods: HashMap<Box<str>, Arc<dyn Handler>, BuildHasherDefault<PathHasher>>,
    services: HashSet<Box<str>>,
}

impl Router {
    /// Adds a service's routes; panics if the service is already there, which is a
    /// programming error caught at startup.
    pub(crate) fn add(&mut self, service: &str, routes: Vec<Route>) {
        assert!(
            self.services.insert(service.into()),
            "service {service} was added to the server twice"
        );
        for route in routes {
            self.methods.insert(route.path.into(), route.handler);
        }
    }

    pub(crate) fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| &**s)
    }

    pub(crate) fn lookup(&self, path: &str) -> Result<&Arc<dyn Handler>, Status> {
        if let Some(h) = self.methods.get(path) {
            return Ok(h);
        }
        // Say which part is unknown, for well-formed paths.
        let service = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .map(|(service, _)| service);
        Err(match service {
            Some(s) if self.services.contains(s) => {
                Status::unimplemented(format!("unknown method {path:?} for service {s}"))
            }
            Some(s) if !s.is_empty() => Status::unimplemented(format!("unknown service {s}")),
            _ => Status::unimplemented(format!("malformed method name {path:?}")),
        })
    }
}

/// FNV-1a over the path bytes: a fraction of SipHash's cost per lookup. A keyed
/// hash is not needed here: the map is built at startup and never grows from
/// what a peer sends, so colliding paths can only slow a lookup down to the
/// number of routes, not make the map degrade.
#[derive(Default)]
pub(crate) struct PathHasher(u64);

impl Hasher for PathHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    /// h2 already refuses a `:path` without a leading slash at the protocol layer;
    /// the router refuses it too, should another carrier deliver one.
    #[test]
    fn paths_without_leading_slash_or_empty_are_unimplemented() {
        let router = Router::default();
        for path in ["test.v1.Probe/Echo", "", "/", "//", "/a"] {
            let err = router.lookup(path).err().map(|s| s.code());
            assert_eq!(err, Some(Code::Unimplemented), "{path:?}");
        }
    }
}
