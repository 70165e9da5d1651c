//! The standard health service, `grpc.health.v1.Health`, as `grpc_health_probe`,
//! Kubernetes `grpc:` probes and load balancers call it.
//!
//! The application reports each service's status through a [`HealthReporter`];
//! `""` is the server as a whole. `Check` answers with the current status
//! (`NOT_FOUND` for a service never reported); `Watch` streams the status now
//! and every change after, with `SERVICE_UNKNOWN` for a service not (yet)
//! reported instead of failing. When the server's graceful shutdown starts,
//! every status turns `NOT_SERVING`, so load balancers stop sending before the
//! server stops answering, and open `Watch` streams end after telling their
//! client.
//!
//! ```
//! use aqueduct::health::HealthReporter;
//! use aqueduct::Server;
//!
//! let health = HealthReporter::new();          // "" is SERVING
//! health.set_serving("helloworld.v1.GreeterService");
//! let server = Server::builder().add_health(health.clone());
//! // ... later, while a dependency is down:
//! health.set_not_serving("helloworld.v1.GreeterService");
//! # drop(server);
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::server::{ServerSink, Service};
use crate::service::{self, Route, ServerStreamingMethod, UnaryMethod};
use crate::{Request, Response, Status};

/// A service's health, as `grpc.health.v1` defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ServingStatus {
    /// Not known (never sent by this server).
    Unknown = 0,
    /// Serving requests.
    Serving = 1,
    /// Not serving requests.
    NotServing = 2,
    /// `Watch` only: no status has been reported for the service.
    ServiceUnknown = 3,
}

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    /// The service to check, by its full name; `""` for the server.
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    /// A [`ServingStatus`].
    #[prost(enumeration = "ServingStatus", tag = "1")]
    pub status: i32,
}

impl From<ServingStatus> for HealthCheckResponse {
    fn from(status: ServingStatus) -> Self {
        Self {
            status: status as i32,
        }
    }
}

/// What the reporter knows: one status per service, and whether the server is
/// shutting down (after which reports are ignored).
#[derive(Debug, Clone, Default)]
struct State {
    statuses: HashMap<String, ServingStatus>,
    shutting_down: bool,
}

/// Sets the statuses the health service reports. Cheap to clone; clones share
/// the statuses.
#[derive(Debug, Clone)]
pub struct HealthReporter {
    state: Arc<watch::Sender<State>>,
}

impl Default for HealthReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthReporter {
    /// A reporter with the server (`""`) `SERVING` and no service reported.
    #[must_use]
    pub fn new() -> Self {
        let mut state = State::default();
        state.statuses.insert(String::new(), ServingStatus::Serving);
        Self {
            state: Arc::new(watch::Sender::new(state)),
        }
    }

    /// Reports `service` (`""` for the server) as `status`. Ignored once the
    /// server is shutting down: everything then stays `NOT_SERVING`.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        self.state.send_if_modified(|state| {
            if state.shutting_down || state.statuses.get(service) == Some(&status) {
                return false;
            }
            state.statuses.insert(service.to_owned(), status);
            true
        });
    }

    /// Reports `service` as `SERVING`.
    pub fn set_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::Serving);
    }

    /// Reports `service` as `NOT_SERVING`.
    pub fn set_not_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::NotServing);
    }

    /// Forgets `service`: `Check` answers `NOT_FOUND` again, `Watch` sends
    /// `SERVICE_UNKNOWN`.
    pub fn clear(&self, service: &str) {
        self.state.send_if_modified(|state| {
            !state.shutting_down && state.statuses.remove(service).is_some()
        });
    }

    /// The status reported for `service`, if any.
    #[must_use]
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.state.borrow().statuses.get(service).copied()
    }

    /// Marks every service, and the server, `NOT_SERVING` for good: what the
    /// server does when its graceful shutdown starts.
    pub fn shutdown(&self) {
        self.state.send_modify(|state| {
            state.shutting_down = true;
            for status in state.statuses.values_mut() {
                *status = ServingStatus::NotServing;
            }
        });
    }

    /// The `grpc.health.v1.Health` service, to mount on a server. Prefer
    /// [`ServerBuilder::add_health`](crate::ServerBuilder::add_health), which
    /// also marks everything `NOT_SERVING` when graceful shutdown starts.
    #[must_use]
    pub fn service(&self) -> HealthServer {
        HealthServer(Arc::new(Health {
            state: self.state.clone(),
        }))
    }
}

/// The health service's state, shared by its two methods.
#[derive(Debug)]
pub struct Health {
    state: Arc<watch::Sender<State>>,
}

/// `grpc.health.v1.Health`, mountable on a server; from
/// [`HealthReporter::service`].
#[derive(Debug, Clone)]
pub struct HealthServer(Arc<Health>);

/// `/grpc.health.v1.Health/Check`.
pub const CHECK: &str = "/grpc.health.v1.Health/Check";
/// `/grpc.health.v1.Health/Watch`.
pub const WATCH: &str = "/grpc.health.v1.Health/Watch";

impl Service for HealthServer {
    const NAME: &'static str = "grpc.health.v1.Health";
    const FILE_DESCRIPTOR_SET: &'static [u8] = include_bytes!("../descriptors/health.bin");

    fn routes(&self) -> Vec<Route> {
        vec![
            service::unary::<Health, Check>(CHECK, self.0.clone()),
            service::server_streaming::<Health, Watch>(WATCH, self.0.clone()),
        ]
    }
}

struct Check;

impl UnaryMethod<Health> for Check {
    type Request = HealthCheckRequest;
    type Response = HealthCheckResponse;

    async fn call(
        svc: &Health,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let service = &request.get_ref().service;
        let status = svc.state.borrow().statuses.get(service).copied();
        match status {
            Some(status) => Ok(Response::new(status.into())),
            None => Err(Status::not_found(format!(
                "no health status for service {service:?}"
            ))),
        }
    }
}

struct Watch;

impl ServerStreamingMethod<Health> for Watch {
    type Request = HealthCheckRequest;
    type Response = HealthCheckResponse;

    async fn call(
        svc: &Health,
        request: Request<HealthCheckRequest>,
        responses: &mut ServerSink<HealthCheckResponse>,
    ) -> Result<(), Status> {
        let service = request.into_inner().service;
        // A watch channel keeps only the latest state: a slow client skips
        // statuses it has not read yet instead of queueing them.
        let mut changes = svc.state.subscribe();
        let mut last = None;
        loop {
            let (status, shutting_down) = {
                let state = changes.borrow_and_update();
                let status = state
                    .statuses
                    .get(&service)
                    .copied()
                    .unwrap_or(ServingStatus::ServiceUnknown);
                (status, state.shutting_down)
            };
            if last != Some(status) {
                responses.send(status.into()).await?;
                last = Some(status);
            }
            if shutting_down {
                // Told NOT_SERVING: end the stream so it does not hold up the
                // server's drain.
                return Ok(());
            }
            if changes.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reporter_sets_clears_and_shuts_down() {
        let health = HealthReporter::new();
        assert_eq!(health.status(""), Some(ServingStatus::Serving));
        assert_eq!(health.status("a.v1.A"), None);
        health.set_serving("a.v1.A");
        health.set_not_serving("b.v1.B");
        assert_eq!(health.status("a.v1.A"), Some(ServingStatus::Serving));
        assert_eq!(health.status("b.v1.B"), Some(ServingStatus::NotServing));
        health.clear("b.v1.B");
        assert_eq!(health.status("b.v1.B"), None);
        health.shutdown();
        assert_eq!(health.status(""), Some(ServingStatus::NotServing));
        assert_eq!(health.status("a.v1.A"), Some(ServingStatus::NotServing));
        // After shutdown, reports are ignored.
        health.set_serving("a.v1.A");
        assert_eq!(health.status("a.v1.A"), Some(ServingStatus::NotServing));
    }
}
