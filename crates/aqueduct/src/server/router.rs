//! Exact-match routing from `:path` to a method handler.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::interceptor::{Chain, DynInterceptor, RouteChain};
use crate::service::Route;
use crate::status::Status;

use std::future::Future;
use std::pin::Pin;

use super::ServerCall;

/// A boxed call future, as the router stores it.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A type-erased method handler: what a [`Route`] runs its calls with.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Runs one call to completion.
    fn call(&self, call: ServerCall) -> BoxFuture;
}

/// Maps `/package.Service/Method` to its handler. Lookups are exact string matches
/// on the raw `:path`; anything else gets `UNIMPLEMENTED` before user code runs.
#[derive(Default)]
pub(crate) struct Router {
    methods: HashMap<Box<str>, Entry, BuildHasherDefault<PathHasher>>,
    /// Mounted services, with their encoded descriptor sets (for reflection).
    services: HashMap<Box<str>, &'static [u8]>,
}

/// One method: its handler, and its interceptors outermost first (`None` when
/// it has none, so calls to it pay nothing for interception).
pub(crate) struct Entry {
    pub(crate) path: &'static str,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) chain: Option<Chain>,
    /// The handler pool the method's calls run on; `None`: the connection's
    /// runtime.
    pub(crate) pool: Option<super::HandlerPool>,
    /// Service- and method-scoped interceptors, until [`Router::finish`].
    scoped: Vec<Arc<dyn DynInterceptor>>,
}

/// Interceptors for one service, by scope.
#[derive(Default)]
pub(crate) struct Scoped {
    pub(crate) service: Vec<Arc<dyn DynInterceptor>>,
    /// By method name (the part after the last `/`).
    pub(crate) methods: Vec<(String, Arc<dyn DynInterceptor>)>,
    /// The handler pool of every method of the service, unless the method has
    /// its own in `method_pools`.
    pub(crate) pool: Option<super::HandlerPool>,
    /// Handler pools by method name.
    pub(crate) method_pools: Vec<(String, super::HandlerPool)>,
    /// `tower` middleware for the service, outermost first.
    #[cfg(feature = "tower")]
    pub(crate) layers: crate::tower::Stack,
}

/// Wraps one method's handler (path, handler) in middleware: how a stack of
/// `tower` layers is kept once its types are erased.
pub(crate) type Wrap =
    Arc<dyn Fn(&'static str, Arc<dyn Handler>) -> Arc<dyn Handler> + Send + Sync>;

/// The panic message for an interceptor scoped to a method the service does
/// not have: the methods it has, and the proto name meant if it was written in
/// Rust's snake case (`record_route` for `RecordRoute`).
fn unknown_method(service: &str, method: &str, routes: &[Route], what: &str) -> String {
    let names: Vec<&str> = routes.iter().map(|r| method_name(r.path)).collect();
    let folded = |s: &str| s.replace('_', "").to_ascii_lowercase();
    let meant = names.iter().find(|n| folded(n) == folded(method));
    let hint = match meant {
        Some(name) => format!(" (methods are named as in the .proto: did you mean {name:?}?)"),
        None => String::new(),
    };
    format!(
        "{what} method {method:?}, which service {service} does not have{hint}; its methods: {}",
        names.join(", ")
    )
}

impl Router {
    /// Adds a service's routes with its scoped interceptors; panics if the service
    /// is already there or an interceptor names a method the service does not
    /// have: programming errors, caught at startup.
    #[cfg_attr(not(feature = "tower"), allow(unused_mut))]
    pub(crate) fn add(
        &mut self,
        service: &str,
        descriptors: &'static [u8],
        routes: Vec<Route>,
        mut scoped: Scoped,
    ) {
        assert!(
            self.services.insert(service.into(), descriptors).is_none(),
            "service {service} was added to the server twice"
        );
        let known = |method: &str| routes.iter().any(|r| method_name(r.path) == method);
        for (method, _) in &scoped.methods {
            if !known(method) {
                let what = "an interceptor is scoped to";
                panic!("{}", unknown_method(service, method, &routes, what));
            }
        }
        for (method, _) in &scoped.method_pools {
            if !known(method) {
                let what = "a handler pool is given to";
                panic!("{}", unknown_method(service, method, &routes, what));
            }
        }
        #[cfg(feature = "tower")]
        let wrap = std::mem::take(&mut scoped.layers).into_wrap();
        #[cfg(not(feature = "tower"))]
        let wrap: Option<Wrap> = None;
        for route in routes {
            let mut chain = scoped.service.clone();
            chain.extend(
                scoped
                    .methods
                    .iter()
                    .filter(|(m, _)| m == method_name(route.path))
                    .map(|(_, i)| i.clone()),
            );
            let pool = scoped
                .method_pools
                .iter()
                .find(|(m, _)| m == method_name(route.path))
                .map(|(_, pool)| pool)
                .or(scoped.pool.as_ref())
                .cloned();
            let entry = Entry {
                path: route.path,
                pool,
                handler: match &wrap {
                    Some(wrap) => wrap(route.path, route.handler),
                    None => route.handler,
                },
                chain: None,
                scoped: chain,
            };
            self.methods.insert(route.path.into(), entry);
        }
    }

    /// Puts the server-wide interceptors outermost in every method's chain; called
    /// once, when serving starts.
    pub(crate) fn finish(&mut self, server: &[Arc<dyn DynInterceptor>], wrap: Option<&Wrap>) {
        for entry in self.methods.values_mut() {
            if let Some(wrap) = wrap {
                entry.handler = wrap(entry.path, entry.handler.clone());
            }
            let chain: Vec<_> = server
                .iter()
                .cloned()
                .chain(entry.scoped.drain(..))
                .collect();
            entry.chain = (!chain.is_empty()).then(|| {
                Arc::new(RouteChain {
                    method: entry.path,
                    interceptors: chain,
                })
            });
        }
    }

    pub(crate) fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(|s| &**s)
    }

    /// Each mounted service with its encoded descriptor set.
    pub(crate) fn described(&self) -> impl Iterator<Item = (&str, &'static [u8])> {
        self.services.iter().map(|(name, set)| (&**name, *set))
    }

    pub(crate) fn lookup(&self, path: &str) -> Result<&Entry, Status> {
        if let Some(h) = self.methods.get(path) {
            return Ok(h);
        }
        // Say which part is unknown, for well-formed paths.
        let service = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .map(|(service, _)| service);
        Err(match service {
            Some(s) if self.services.contains_key(s) => {
                Status::unimplemented(format!("unknown method {path:?} for service {s}"))
            }
            Some(s) if !s.is_empty() => Status::unimplemented(format!("unknown service {s}")),
            _ => Status::unimplemented(format!("malformed method name {path:?}")),
        })
    }
}

/// `Method` of `/package.Service/Method`.
fn method_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
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
