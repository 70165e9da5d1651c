//! Bearer-token authentication: [`BearerAuth`] on the server, [`BearerToken`]
//! on the client.

use std::fmt;

use super::{CallInfo, ClientCallInfo, ClientInterceptor, Interceptor};
use crate::metadata::{MetadataError, MetadataMap};
use crate::status::Status;

const AUTHORIZATION: &str = "authorization";

/// Server interceptor: admits calls that carry `authorization: Bearer <token>`
/// with a token `verify` accepts.
///
/// - no `authorization`, or one that is not a bearer token: `UNAUTHENTICATED`;
/// - a token `verify` refuses (returns `None`): `PERMISSION_DENIED`;
/// - a token it accepts: what `verify` returned (the caller's identity, say) goes
///   into the call's extensions, where the handler reads it with
///   [`Request::extensions`](crate::Request::extensions).
///
/// `verify` runs on the call's task for every call, so keep it quick (a lookup,
/// a signature check); for a check that must wait on I/O, write an
/// [`Interceptor`] whose `on_call` awaits it.
///
/// ```
/// use aqueduct::interceptor::BearerAuth;
///
/// #[derive(Clone)]
/// struct User(&'static str);
///
/// let auth = BearerAuth::new(|token: &str| (token == "s3cret").then_some(User("ada")));
/// // Server::builder().intercept(auth) ...
/// # drop(auth);
/// ```
pub struct BearerAuth<F> {
    verify: F,
}

impl<F, P> BearerAuth<F>
where
    F: Fn(&str) -> Option<P> + Send + Sync + 'static,
    P: Clone + Send + Sync + 'static,
{
    /// Admits calls whose bearer token `verify` accepts.
    pub fn new(verify: F) -> Self {
        Self { verify }
    }
}

impl<F> fmt::Debug for BearerAuth<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth").finish_non_exhaustive()
    }
}

/// The token of an `authorization: Bearer <token>` value; the scheme is
/// case-insensitive (RFC 6750).
fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let value = metadata.get(AUTHORIZATION).ok_or_else(|| {
        Status::unauthenticated("missing credentials: send `authorization: Bearer <token>`")
    })?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Status::unauthenticated(
            "the authorization metadata is not a bearer token",
        ));
    }
    Ok(token)
}

impl<F, P> Interceptor for BearerAuth<F>
where
    F: Fn(&str) -> Option<P> + Send + Sync + 'static,
    P: Clone + Send + Sync + 'static,
{
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let token = bearer_token(call.metadata())?;
        let identity = (self.verify)(token)
            .ok_or_else(|| Status::permission_denied("the bearer token was refused"))?;
        call.extensions_mut().insert(identity);
        Ok(())
    }
}

/// Client interceptor: sends `authorization: Bearer <token>` with every call
/// (unless the call sets `authorization` itself).
#[derive(Clone)]
pub struct BearerToken {
    value: String,
}

impl BearerToken {
    /// A token to send; fails if it cannot travel as metadata (not visible
    /// ASCII).
    pub fn new(token: &str) -> Result<Self, MetadataError> {
        let value = format!("Bearer {token}");
        // Checked once here, so every call can insert it without failing.
        MetadataMap::new().insert(AUTHORIZATION, &value)?;
        Ok(Self { value })
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token itself: Debug output ends up in logs.
        f.debug_struct("BearerToken").finish_non_exhaustive()
    }
}

impl ClientInterceptor for BearerToken {
    async fn on_call(&self, call: &mut ClientCallInfo<'_>) -> Result<(), Status> {
        let metadata = call.metadata_mut();
        if !metadata.contains_key(AUTHORIZATION) {
            metadata
                .insert(AUTHORIZATION, &self.value)
                .map_err(|e| Status::internal(format!("bearer token: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> MetadataMap {
        let mut md = MetadataMap::new();
        md.insert(AUTHORIZATION, value).unwrap();
        md
    }

    #[test]
    fn bearer_tokens_are_read_and_other_schemes_refused() {
        assert_eq!(bearer_token(&with_auth("Bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(&with_auth("bearer  abc ")).unwrap(), "abc");
        for bad in ["Basic abc", "Bearer", "Bearer ", "abc"] {
            let status = bearer_token(&with_auth(bad)).unwrap_err();
            assert_eq!(status.code(), crate::Code::Unauthenticated, "{bad}");
        }
        let status = bearer_token(&MetadataMap::new()).unwrap_err();
        assert_eq!(status.code(), crate::Code::Unauthenticated);
    }

    #[test]
    fn tokens_that_cannot_travel_are_refused_up_front() {
        assert!(BearerToken::new("ok-token").is_ok());
        assert!(BearerToken::new("line\nbreak").is_err());
        assert!(!format!("{:?}", BearerToken::new("s3cret").unwrap()).contains("s3cret"));
    }
}
