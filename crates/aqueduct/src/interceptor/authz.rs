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
/// the call decides it: the call runs if the client's certificate matches one
/// of the rule's identity patterns, and fails with `PERMISSION_DENIED`
/// otherwise. A call no rule matches is denied too, unless
/// [`allow_unmatched`] says otherwise. A call without a verified client
/// certificate (plaintext, or TLS without one) fails with `UNAUTHENTICATED`.
///
/// An identity pattern matches one kind of name, by its form, never a name of
/// another kind:
///
/// | pattern | matches |
/// |---|---|
/// | `spiffe://example.org/ns/billing/sa/api` | the certificate's SPIFFE ID, exactly |
/// | `spiffe://example.org/ns/billing/*` | a SPIFFE ID under that path (whole segments: not `.../billing-2/...`) |
/// | `https://id.example.org/...` (any other `scheme://`) | a URI SAN, exactly or under a `/*` path the same way |
/// | `billing.internal` | a DNS SAN, exactly; or, for a certificate with no SANs at all, its subject CN |
/// | `*.billing.internal` | a DNS SAN one label under `billing.internal` |
/// | `*` | any verified certificate |
///
/// The subject CN counts only for certificates without subject alternative
/// names (as RFC 6125 says): where a CA lets requesters pick the CN, a
/// certificate for `web.internal` must not pass as `billing.internal`.
///
/// A method pattern is a full method name (`/billing.v1.Ledger/Post`), a
/// service (`/billing.v1.Ledger/*`), or `*` for every method. A `*` anywhere
/// else is refused when the rule is added (a panic), so a pattern cannot
/// silently match nothing, or more than it says.
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
    identities: Vec<Identity>,
}

/// A name pattern: exact, everything, or everything under a prefix that
/// ends at a boundary (`/` for paths and methods, `.` for DNS labels).
#[derive(Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    /// Names under `prefix/`, `prefix` ending in `/`.
    Under(String),
    /// DNS names one label under `.suffix`, `suffix` starting with `.`.
    OneLabel(String),
}

impl Pattern {
    /// A method pattern: `*`, `/pkg.Service/*`, or a full method name.
    fn method(pattern: &str) -> Self {
        match pattern {
            "*" => Self::Any,
            p => match p.strip_suffix('*') {
                Some(prefix) if prefix.ends_with('/') && !prefix.contains('*') => {
                    Self::Under(prefix.to_owned())
                }
                _ if !p.contains('*') => Self::Exact(p.to_owned()),
                _ => panic!(
                    "IdentityPolicy: method pattern {p:?}: `*` may only be the whole pattern \
                     or follow the last `/` (\"/pkg.Service/*\")"
                ),
            },
        }
    }

    /// A path pattern (SPIFFE IDs and URIs): exact, or `.../*`.
    fn path(pattern: &str) -> Self {
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('/') && !prefix.contains('*') => {
                Self::Under(prefix.to_owned())
            }
            _ if !pattern.contains('*') => Self::Exact(pattern.to_owned()),
            _ => panic!(
                "IdentityPolicy: identity pattern {pattern:?}: `*` may only follow the last `/` \
                 (\"spiffe://example.org/ns/billing/*\")"
            ),
        }
    }

    /// A DNS pattern: exact (case-insensitive), or `*.domain`.
    fn dns(pattern: &str) -> Self {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('*') {
            Some(suffix)
                if suffix.starts_with('.') && suffix.len() > 1 && !suffix.contains('*') =>
            {
                Self::OneLabel(suffix.to_owned())
            }
            _ if !pattern.contains('*') => Self::Exact(pattern),
            _ => panic!(
                "IdentityPolicy: identity pattern {pattern:?}: a DNS pattern's `*` may only be \
                 its first label (\"*.billing.internal\")"
            ),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => name == exact,
            Self::Under(prefix) => name.len() > prefix.len() && name.starts_with(prefix.as_str()),
            Self::OneLabel(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        }
    }

    fn matches_dns(&self, name: &str) -> bool {
        self.matches(&name.to_ascii_lowercase())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Exact(exact) => f.write_str(exact),
            Self::Under(prefix) => write!(f, "{prefix}*"),
            Self::OneLabel(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// An identity pattern, by the kind of name it matches.
#[derive(Clone)]
enum Identity {
    /// Any verified certificate.
    Any,
    /// The SPIFFE ID.
    Spiffe(Pattern),
    /// A URI SAN of another scheme.
    Uri(Pattern),
    /// A DNS SAN; the CN of a certificate without SANs.
    Dns(Pattern),
}

impl Identity {
    fn new(pattern: &str) -> Self {
        if pattern == "*" {
            Self::Any
        } else if pattern.starts_with("spiffe://") {
            Self::Spiffe(Pattern::path(pattern))
        } else if pattern.contains("://") {
            Self::Uri(Pattern::path(pattern))
        } else {
            Self::Dns(Pattern::dns(pattern))
        }
    }

    fn matches(&self, peer: &PeerIdentity) -> bool {
        match self {
            Self::Any => true,
            Self::Spiffe(p) => peer.spiffe_id().is_some_and(|id| p.matches(id)),
            Self::Uri(p) => peer.uris().iter().any(|uri| p.matches(uri)),
            Self::Dns(p) => {
                let no_sans = peer.dns_names().is_empty()
                    && peer.uris().is_empty()
                    && peer.ip_addresses().is_empty();
                peer.dns_names().iter().any(|dns| p.matches_dns(dns))
                    || (no_sans && peer.common_name().is_some_and(|cn| p.matches_dns(cn)))
            }
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Spiffe(p) | Self::Uri(p) | Self::Dns(p) => p.fmt(f),
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

    /// Calls to methods matching `method` are allowed for clients whose
    /// certificate matches one of `identities`, and denied for everyone else.
    ///
    /// # Panics
    ///
    /// If a pattern has a `*` where the table above allows none: such a
    /// pattern would never match, or match more than it says.
    #[must_use]
    pub fn allow<I, S>(mut self, method: &str, identities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rules.push(Rule {
            method: Pattern::method(method),
            identities: identities
                .into_iter()
                .map(|s| Identity::new(s.as_ref()))
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

    /// Whether a client whose certificate names `identity` may call `method`.
    ///
    /// # Errors
    ///
    /// `PERMISSION_DENIED`, naming the client and the method, when the first
    /// rule for `method` does not admit it, or no rule names the method.
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
        if rule.identities.iter().any(|p| p.matches(identity)) {
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
        assert!(strict.check("/a.A/Get", &PeerIdentity::default()).is_ok());
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

    fn certificate(dns: &[&str], uris: &[&str], cn: Option<&str>) -> PeerIdentity {
        let mut params =
            rcgen::CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>())
                .unwrap();
        for uri in uris {
            params
                .subject_alt_names
                .push(rcgen::SanType::URI((*uri).try_into().unwrap()));
        }
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        PeerIdentity::parse(params.self_signed(&key).unwrap().der())
    }

    #[test]
    fn names_match_only_names_of_their_kind() {
        let policy = IdentityPolicy::new().allow(
            "/billing.v1.Ledger/*",
            ["spiffe://example.org/ns/billing/*", "billing.internal"],
        );
        let ledger = "/billing.v1.Ledger/Post";
        // A SPIFFE pattern is not matched by the CN, nor by a second URI SAN.
        let web_with_billing_cn = certificate(
            &[],
            &["spiffe://example.org/ns/web/sa/frontend"],
            Some("spiffe://example.org/ns/billing/sa/api"),
        );
        assert!(policy.check(ledger, &web_with_billing_cn).is_err());
        let two_uris = certificate(
            &[],
            &[
                "spiffe://example.org/ns/web/sa/frontend",
                "spiffe://example.org/ns/billing/sa/api",
            ],
            None,
        );
        assert!(policy.check(ledger, &two_uris).is_err());
        // A DNS pattern: DNS SANs; the CN only without SANs.
        let web_with_billing_cn = certificate(&["web.internal"], &[], Some("billing.internal"));
        assert!(policy.check(ledger, &web_with_billing_cn).is_err());
        let cn_only = certificate(&[], &[], Some("billing.internal"));
        assert!(policy.check(ledger, &cn_only).is_ok());
        let dns = certificate(&["Billing.Internal"], &[], None);
        assert!(policy.check(ledger, &dns).is_ok());
    }

    #[test]
    fn prefixes_end_at_a_boundary() {
        let policy = IdentityPolicy::new()
            .allow("/billing.v1.Ledger/*", ["spiffe://example.org/*"])
            .allow("/dns.v1.D/*", ["*.billing.internal"]);
        let id = |s| spiffe(s);
        assert!(
            policy
                .check("/billing.v1.Ledger/Post", &id("spiffe://example.org/a"))
                .is_ok()
        );
        // Another trust domain, another service.
        assert!(
            policy
                .check(
                    "/billing.v1.Ledger/Post",
                    &id("spiffe://example.org.evil/a")
                )
                .is_err()
        );
        assert!(
            policy
                .check(
                    "/billing.v1.LedgerAdmin/Drop",
                    &id("spiffe://example.org/a")
                )
                .is_err()
        );
        // A SPIFFE ID with a dot segment is no SPIFFE ID.
        assert!(
            policy
                .check(
                    "/billing.v1.Ledger/Post",
                    &id("spiffe://example.org/ns/../web")
                )
                .is_err()
        );
        let dns = |name: &str| certificate(&[name], &[], None);
        assert!(
            policy
                .check("/dns.v1.D/Get", &dns("api.billing.internal"))
                .is_ok()
        );
        assert!(
            policy
                .check("/dns.v1.D/Get", &dns("a.b.billing.internal"))
                .is_err()
        );
        assert!(
            policy
                .check("/dns.v1.D/Get", &dns("billing.internal"))
                .is_err()
        );
        assert!(
            policy
                .check("/dns.v1.D/Get", &dns("evilbilling.internal"))
                .is_err()
        );
    }

    #[test]
    #[should_panic(expected = "may only follow the last `/`")]
    fn a_star_in_the_middle_is_refused() {
        let _ = IdentityPolicy::new().allow("*", ["spiffe://example.org/ns/*/sa/admin"]);
    }

    #[test]
    #[should_panic(expected = "method pattern")]
    fn a_method_prefix_without_a_slash_is_refused() {
        let _ = IdentityPolicy::new().allow("/billing.v1.Ledger*", ["*"]);
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
