//! The NATS backend: one hub per server replica, all of them joined through a
//! NATS server, so that a publish on any replica reaches subscribers on every
//! replica.
//!
//! Every publish goes to NATS (subject `<prefix>.k.<key>`, or `<prefix>.all`
//! for [`Hub::publish_all`]) with the message's protobuf encoding as payload.
//! Each replica's hub holds one NATS subscription, `<prefix>.>`, and fans what
//! arrives out to its local subscribers, its own publishes included. So every
//! subscriber on every replica sees one publisher's messages in the order it
//! published them: NATS keeps the order of one connection's messages to each
//! subscription, and a hub publishes through one connection.

use std::future::poll_fn;
use std::hash::Hash;
use std::sync::Arc;

use aqueduct::Status;
use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::Hub;
use crate::owner::Command;

/// A key the NATS backend can carry in a subject: written as one subject
/// token and read back from it.
///
/// Implemented for `String` (any text: bytes outside `A-Z a-z 0-9 - _` are
/// written as `%XX`) and the integer types.
pub trait SubjectKey: Sized {
    /// Appends this key as one subject token: non-empty, with no `.`, `*`,
    /// `>` or whitespace.
    fn write_token(&self, out: &mut String);
    /// The key `token` was written from; `None` for a token no key writes.
    fn from_token(token: &str) -> Option<Self>;
}

impl SubjectKey for String {
    fn write_token(&self, out: &mut String) {
        if self.is_empty() {
            // A lone `%` (never otherwise written) stands for "".
            out.push('%');
            return;
        }
        for byte in self.bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }

    fn from_token(token: &str) -> Option<Self> {
        if token == "%" {
            return Some(Self::new());
        }
        let mut bytes = Vec::with_capacity(token.len());
        let mut rest = token.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            if first == b'%' {
                let [high, low, tail @ ..] = tail else {
                    return None;
                };
                bytes.push(hex_value(*high)? << 4 | hex_value(*low)?);
                rest = tail;
            } else if first.is_ascii_alphanumeric() || first == b'-' || first == b'_' {
                bytes.push(first);
                rest = tail;
            } else {
                return None;
            }
        }
        if bytes.is_empty() {
            return None;
        }
        Self::from_utf8(bytes).ok()
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

macro_rules! integer_keys {
    ($($ty:ty),*) => {$(
        impl SubjectKey for $ty {
            fn write_token(&self, out: &mut String) {
                use std::fmt::Write as _;
                let _ = write!(out, "{self}");
            }

            fn from_token(token: &str) -> Option<Self> {
                token.parse().ok()
            }
        }
    )*};
}

integer_keys!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

/// How long `Hub::with_nats` waits for the NATS server to confirm its
/// subscription.
const SUBSCRIBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a NATS-backed hub publishes through.
pub(crate) struct Remote<K, M> {
    client: async_nats::Client,
    prefix: String,
    encode: fn(&M) -> Bytes,
    write_token: fn(&K, &mut String),
    /// Dropped with the last hub handle: stops the relay task.
    _stop: oneshot::Sender<()>,
}

impl<K, M> std::fmt::Debug for Remote<K, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<K, M> Remote<K, M> {
    /// Publishes to every replica's hub (this one's too), to `key`'s
    /// subscribers or (`None`) to all.
    pub(crate) async fn publish(&self, key: Option<&K>, message: &M) -> Result<(), Status> {
        let mut subject = String::with_capacity(self.prefix.len() + 24);
        subject.push_str(&self.prefix);
        match key {
            Some(key) => {
                subject.push_str(".k.");
                (self.write_token)(key, &mut subject);
            }
            None => subject.push_str(".all"),
        }
        self.client
            .publish(subject, (self.encode)(message))
            .await
            .map_err(|error| match error.kind() {
                async_nats::client::PublishErrorKind::MaxPayloadExceeded => {
                    Status::resource_exhausted(format!(
                        "message larger than the NATS server's max_payload: {error}"
                    ))
                }
                _ => Status::unavailable(format!("NATS publish failed: {error}")),
            })
    }
}

impl<K, M> Hub<K, M>
where
    K: SubjectKey + Hash + Eq + Clone + Send + 'static,
    M: prost::Message + Default + Clone + Send + 'static,
{
    /// A hub joined to every other hub on `client`'s NATS server that uses
    /// the same `prefix` (dot-separated tokens of `A-Z a-z 0-9 - _`, such as
    /// `chat.rooms`): a publish on any of them reaches the subscribers of
    /// all. The rest of the API is that of [`Hub::new`].
    ///
    /// Returns once the NATS server has this hub's subscription, so a publish
    /// made anywhere after this returns is seen here.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` for a bad prefix, `UNAVAILABLE` when the NATS
    /// server does not confirm the subscription within 10 s.
    pub async fn with_nats(
        client: async_nats::Client,
        prefix: impl Into<String>,
    ) -> Result<Self, Status> {
        let prefix = prefix.into();
        check_prefix(&prefix)?;
        let subscribed = async {
            let subscriber = client
                .subscribe(format!("{prefix}.>"))
                .await
                .map_err(|error| Status::unavailable(format!("NATS subscribe failed: {error}")))?;
            // The server has handled our SUB once it answers the flush's PING.
            client
                .flush()
                .await
                .map_err(|error| Status::unavailable(format!("NATS flush failed: {error}")))?;
            Ok::<_, Status>(subscriber)
        };
        let subscriber = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed)
            .await
            .map_err(|_| {
                Status::unavailable(format!(
                    "the NATS server did not confirm the subscription within {} s",
                    SUBSCRIBE_TIMEOUT.as_secs()
                ))
            })??;
        let (stop, stopped) = oneshot::channel();
        let mut hub = Self::new();
        tokio::spawn(relay::<K, M>(
            subscriber,
            hub.commands.clone(),
            hub.counters.clone(),
            prefix.clone(),
            stopped,
        ));
        hub.remote = Some(Arc::new(Remote {
            client,
            prefix,
            encode: |message| Bytes::from(message.encode_to_vec()),
            write_token: K::write_token,
            _stop: stop,
        }));
        Ok(hub)
    }
}

fn check_prefix(prefix: &str) -> Result<(), Status> {
    let fine = !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if fine {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "NATS subject prefix {prefix:?} must be dot-separated tokens of A-Z a-z 0-9 - _"
        )))
    }
}

/// Hands what arrives from NATS to the owner task, until the last hub handle
/// is dropped (`stopped`), the hub shuts down, or the subscription ends.
async fn relay<K, M>(
    mut subscriber: async_nats::Subscriber,
    commands: mpsc::Sender<Command<K, M>>,
    counters: Arc<crate::Counters>,
    prefix: String,
    mut stopped: oneshot::Receiver<()>,
) where
    K: SubjectKey,
    M: prost::Message + Default,
{
    loop {
        let next = tokio::select! {
            next = poll_fn(|cx| Pin::new(&mut subscriber).poll_next(cx)) => next,
            _ = &mut stopped => return,
        };
        let Some(message) = next else {
            tracing::warn!(prefix, "the NATS subscription ended; the hub stops");
            let status = Status::unavailable("the broadcast hub lost its NATS subscription");
            let _ = commands.send(Command::Shutdown { status }).await;
            return;
        };
        let Some(command) = decode::<K, M>(&prefix, &message.subject, &message.payload) else {
            tracing::warn!(
                subject = %message.subject,
                bytes = message.payload.len(),
                "dropping a NATS message this hub cannot decode"
            );
            counters
                .rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            continue;
        };
        if commands.send(command).await.is_err() {
            return; // the hub has shut down
        }
    }
}

/// The publish a NATS message carries, if its subject and payload decode.
fn decode<K, M>(prefix: &str, subject: &str, payload: &Bytes) -> Option<Command<K, M>>
where
    K: SubjectKey,
    M: prost::Message + Default,
{
    let rest = subject.strip_prefix(prefix)?.strip_prefix('.')?;
    let key = match rest {
        "all" => None,
        _ => Some(K::from_token(rest.strip_prefix("k.")?)?),
    };
    let message = M::decode(payload.clone()).ok()?;
    Some(Command::Publish { key, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token<K: SubjectKey>(key: &K) -> String {
        let mut out = String::new();
        key.write_token(&mut out);
        out
    }

    #[test]
    fn string_keys_round_trip_through_one_subject_token() {
        for key in ["lobby", "", "a.b", "x y*z>", "%", "caf\u{e9}", "-_", "%41"] {
            let written = token(&key.to_owned());
            assert!(!written.is_empty());
            assert!(
                !written.contains(['.', '*', '>', ' ']),
                "{key:?} -> {written:?}"
            );
            assert_eq!(String::from_token(&written).as_deref(), Some(key));
        }
        assert_eq!(token(&"lobby".to_owned()), "lobby");
        assert_eq!(token(&"a.b".to_owned()), "a%2Eb");
    }

    #[test]
    fn bad_tokens_are_refused_not_guessed() {
        for bad in ["%4", "%G0", "a.b", "%FF", "", "%%", "a b", "%e9"] {
            assert_eq!(String::from_token(bad), None, "{bad:?}");
        }
        assert_eq!(u64::from_token("x"), None);
        assert_eq!(i32::from_token(&token(&-7i32)), Some(-7));
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("chat.rooms").is_ok());
        for bad in [
            "",
            "chat.",
            ".chat",
            "chat.*",
            "chat.>",
            "a b",
            "chat..rooms",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
