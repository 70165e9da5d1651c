//! Handler pools: a method whose handler blocks its thread, placed on a
//! [`HandlerPool`], leaves the thread that serves the connection free, so the
//! connection's other calls go on while it blocks. The server runs on a
//! current-thread runtime (one core), where a blocking handler run inline
//! would stop everything, this test included.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqueduct::service::{self, Route, UnaryMethod};
use aqueduct::{Channel, Code, HandlerPool, Request, Response, Server, Service, Status};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const BLOCK: &str = "/test.v1.Pool/Block";
const ECHO: &str = "/test.v1.Pool/Echo";

/// How long any one step may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// The service's state: `Block` says it started, then blocks its thread until
/// released.
struct Pool {
    started: mpsc::UnboundedSender<()>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
}

struct Block;
impl UnaryMethod<Pool> for Block {
    type Request = String;
    type Response = String;
    async fn call(svc: &Pool, request: Request<String>) -> Result<Response<String>, Status> {
        let _ = svc.started.send(());
        // Blocks the thread, as a synchronous driver would: no await.
        let release = svc
            .release
            .lock()
            .map_err(|_| Status::internal("release lock poisoned"))?;
        release
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| Status::internal("never released"))?;
        Ok(Response::new(request.into_inner()))
    }
}

struct Echo;
impl UnaryMethod<Pool> for Echo {
    type Request = String;
    type Response = String;
    async fn call(_svc: &Pool, request: Request<String>) -> Result<Response<String>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

struct PoolServer(Arc<Pool>);

impl Service for PoolServer {
    const NAME: &'static str = "test.v1.Pool";

    fn routes(&self) -> Vec<Route> {
        vec![
            service::unary::<Pool, Block>(BLOCK, self.0.clone()),
            service::unary::<Pool, Echo>(ECHO, self.0.clone()),
        ]
    }
}

/// What a test needs: the channel, `Block`'s start signal and release, and
/// the server to stop.
struct Harness {
    channel: Channel,
    started: mpsc::UnboundedReceiver<()>,
    release: std::sync::mpsc::Sender<()>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(pool: &HandlerPool) -> Harness {
    let (started_tx, started) = mpsc::unbounded_channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let state = Arc::new(Pool {
        started: started_tx,
        release: Mutex::new(release_rx),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_service_with(PoolServer(state), |scope| {
                scope.method_on_pool("Block", pool)
            })
            .serve(listener)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            }),
    );
    let channel = Channel::from_uri(&format!("http://{addr}")).unwrap();
    Harness {
        channel,
        started,
        release,
        stop,
        server,
    }
}

impl Harness {
    /// Starts a `Block` call and waits until its handler is blocking.
    async fn blocking_call(&mut self) -> tokio::task::JoinHandle<Result<Response<String>, Status>> {
        let channel = self.channel.clone();
        let call = tokio::spawn(async move {
            channel
                .unary::<String, String>(BLOCK, Request::new("blocked".to_owned()))
                .await
        });
        tokio::time::timeout(PATIENCE, self.started.recv())
            .await
            .expect("the blocking handler did not start")
            .expect("the service is gone");
        call
    }

    async fn shutdown(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_blocking_handler_on_a_pool_leaves_the_connection_serving() {
    let pool = HandlerPool::builder().threads(1).build().unwrap();
    let mut h = start(&pool).await;
    let blocked = h.blocking_call().await;
    // The pool's thread is blocked; the server's (this test's only) thread is
    // not: another call on the same connection is answered meanwhile.
    let echo = tokio::time::timeout(
        PATIENCE,
        h.channel
            .unary::<String, String>(ECHO, Request::new("meanwhile".to_owned())),
    )
    .await
    .expect("a call was held up behind the blocking handler")
    .unwrap();
    assert_eq!(echo.into_inner(), "meanwhile");
    assert!(
        !blocked.is_finished(),
        "the blocking call ended before its release"
    );
    h.release.send(()).unwrap();
    let reply = tokio::time::timeout(PATIENCE, blocked)
        .await
        .expect("the released call did not finish")
        .unwrap()
        .unwrap();
    assert_eq!(reply.into_inner(), "blocked");
    h.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_pool_refuses_with_resource_exhausted_before_the_handler() {
    let pool = HandlerPool::builder()
        .threads(1)
        .max_calls(1)
        .build()
        .unwrap();
    let mut h = start(&pool).await;
    let blocked = h.blocking_call().await;
    let refused = tokio::time::timeout(
        PATIENCE,
        h.channel
            .unary::<String, String>(BLOCK, Request::new("one too many".to_owned())),
    )
    .await
    .expect("the refusal did not come")
    .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused}");
    assert!(refused.message().contains("handler pool"), "{refused}");
    assert!(
        h.started.try_recv().is_err(),
        "the refused call's handler ran"
    );
    h.release.send(()).unwrap();
    tokio::time::timeout(PATIENCE, blocked)
        .await
        .expect("the released call did not finish")
        .unwrap()
        .unwrap();
    // Its slot is free again once the call has ended.
    let again = h.blocking_call().await;
    h.release.send(()).unwrap();
    tokio::time::timeout(PATIENCE, again)
        .await
        .expect("the second blocking call did not finish")
        .unwrap()
        .unwrap();
    h.shutdown().await;
}

#[test]
#[should_panic(expected = "a handler pool is given to method \"Blok\"")]
fn a_pool_for_a_method_the_service_lacks_stops_the_server_at_startup() {
    let (started, _) = mpsc::unbounded_channel();
    let (_, release) = std::sync::mpsc::channel();
    let state = Arc::new(Pool {
        started,
        release: Mutex::new(release),
    });
    let pool = HandlerPool::builder().threads(1).build().unwrap();
    let _ = Server::builder().add_service_with(PoolServer(state), |scope| {
        scope.method_on_pool("Blok", &pool)
    });
}
