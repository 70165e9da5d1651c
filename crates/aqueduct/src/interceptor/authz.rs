//! Authorization by TLS identity: [`IdentityPolicy`] allows or denies methods
//! by who the client's verified certificate says it is.

use std::fmt;

use super::{CallInfo, Interceptor};
use crate::status::Status;
use crate::tls::PeerIdentity;

/// Server interceptor: which verified client identities may call which
/// methods, for servers with mutual TLS ([`ClientAuth`](crate::tls::ClientAuth)).
///
/// Rules are tried in the order added; the first whose method pattern matches
/// the call decides it: the call runs if one of the client's names (its SPIFFE
/// ID or other URI SANs, DNS SANs, then its subject CN) matches one of the
/// rule's identity patterns, and fails with `PERMISSION_DENIED` otherwise. A
/// call no rule matches is denied too, unless [`allow_unmatched`] says
/// otherwise. A call without a verified client certificate (plaintext, or TLS
/// without one) fails with `UNAUTHENTICATED`.
///
/// A pattern is exact, or ends in `*` to match every name that starts with
/// what comes before it; `*` alone matches everything. Methods are full
/// names: `/billing.v1.Ledger/Post`, `/billing.v1.Ledger/*`.
///
/// ```
/// use aqueduct::interceptor::IdentityPolicy;
///
/// let policy = IdentityPolicy::new()
///     // Only billing's workloads may touch the ledger...
///     .allow("/billing.v1.Ledger/*", ["spiffe://example.org/ns/billing/*"])
///     // ...anyone in the trust domain may check health...
///     .allow("/grpc.health.v1.Health/*", ["spiffe://example.org/*"])
///     // ...and the ops tool may call anything.
///     .allow("*", ["spiffe://example.org/ns/ops/sa/admin"]);
/// // Server::builder().tls(tls).intercept(policy) ...
/// # drop(policy);
/// ```
///
/// [`allow_unmatched`]: Self::allow_unmatched
#[derive(Clone, Default)]
pub struct IdentityPolicy {
    rules: Vec<Rule>,
    allow_unmatched: bool,
}

#[derive(Clone)]
struct Rule {
    method: Pattern,
    identities: Vec<Pattern>,
}

/// An exact name, or a prefix (written with a trailing `*`).
#[derive(Clone)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(pattern.to_owned()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(exact) => name == exact,
            Self::Prefix(prefix) => name.starts_with(prefix.as_str()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(exact) => f.write_str(exact),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

impl fmt::Debug for IdentityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|rule| {
                let who: Vec<String> = rule.identities.iter().map(ToString::to_string).collect();
                format!("{} <- {}", rule.method, who.join(" | "))
            })
            .collect();
        f.debug_struct("IdentityPolicy")
            .field("rules", &rules)
            .field("allow_unmatched", &self.allow_unmatched)
            .finish()
    }
}

impl IdentityPolicy {
    /// A policy with no rules: every call is denied until rules allow some.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls to methods matching `method` are allowed for clients with a name
    /// matching one of `identities`, and denied for everyone else.
    #[must_use]
    pub fn allow<I, S>(mut self, method: &str, identities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rules.push(Rule {
            method: Pattern::new(method),
            identities: identities
                .into_iter()
                .map(|s| Pattern::new(s.as_ref()))
                .collect(),
        });
        self
    }

    /// Calls to methods no rule names run for any verified client (they
    /// still need a client certificate). By default they are denied.
    #[must_use]
    pub fn allow_unmatched(mut self) -> Self {
        self.allow_unmatched = true;
        self
    }

    /// Whether a client named by `identity` may call `method`.
    pub fn check(&self, method: &str, identity: &PeerIdentity) -> Result<(), Status> {
        let Some(rule) = self.rules.iter().find(|rule| rule.method.matches(method)) else {
            return if self.allow_unmatched {
                Ok(())
            } else {
                Err(Status::permission_denied(format!(
                    "{method} is not open to any client identity"
                )))
            };
        };
        let allowed = identity
            .names()
            .any(|name| rule.identities.iter().any(|p| p.matches(name)));
        if allowed {
            return Ok(());
        }
        let who = identity
            .names()
            .next()
            .unwrap_or("a certificate without names");
        Err(Status::permission_denied(format!(
            "{who} may not call {method}"
        )))
    }
}

impl Interceptor for IdentityPolicy {
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let Some(identity) = call.peer_tls().and_then(|tls| tls.peer_identity()) else {
            return Err(Status::unauthenticated(
                "this method needs a verified client certificate (mutual TLS)",
            ));
        };
        self.check(call.method(), identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spiffe(id: &str) -> PeerIdentity {
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::URI(id.try_into().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        PeerIdentity::parse(params.self_signed(&key).unwrap().der())
    }

    #[test]
    fn first_matching_rule_decides() {
        let policy = IdentityPolicy::new()
            .allow(
                "/billing.v1.Ledger/*",
                ["spiffe://example.org/ns/billing/*"],
            )
            .allow("*", ["spiffe://example.org/ns/ops/sa/admin"]);
        let billing = spiffe("spiffe://example.org/ns/billing/sa/api");
        let web = spiffe("spiffe://example.org/ns/web/sa/frontend");
        let admin = spiffe("spiffe://example.org/ns/ops/sa/admin");

        assert!(policy.check("/billing.v1.Ledger/Post", &billing).is_ok());
        let denied = policy.check("/billing.v1.Ledger/Post", &web).unwrap_err();
        assert_eq!(denied.code(), crate::Code::PermissionDenied);
        assert!(denied.message().contains("ns/web"), "{}", denied.message());
        // The ledger rule matched first, so the catch-all does not admit ops.
        assert!(policy.check("/billing.v1.Ledger/Post", &admin).is_err());
        assert!(policy.check("/orders.v1.Orders/Get", &admin).is_ok());
        assert!(policy.check("/orders.v1.Orders/Get", &billing).is_err());
    }

    #[test]
    fn unmatched_methods_are_denied_unless_allowed() {
        let id = spiffe("spiffe://example.org/a");
        let strict = IdentityPolicy::new().allow("/a.A/Get", ["*"]);
        assert!(strict.check("/a.A/Get", &id).is_ok());
        assert!(strict.check("/a.A/Put", &id).is_err());
        assert!(
            strict
                .clone()
                .allow_unmatched()
                .check("/a.A/Put", &id)
                .is_ok()
        );
    }

    #[test]
    fn exact_patterns_do_not_match_prefixes() {
        let policy = IdentityPolicy::new().allow("/a.A/Get", ["spiffe://example.org/a"]);
        assert!(
            policy
                .check("/a.A/Get", &spiffe("spiffe://example.org/a"))
                .is_ok()
        );
        assert!(
            policy
                .check("/a.A/Get", &spiffe("spiffe://example.org/ab"))
                .is_err()
        );
        assert!(
            policy
                .check("/a.A/GetAll", &spiffe("spiffe://example.org/a"))
                .is_err()
        );
    }
}
