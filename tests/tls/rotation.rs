//! Certificates and client roots rotated under a running server: new
//! connections get the new material, open ones keep theirs, and material
//! that does not load is refused with the old kept in use.

use std::time::Duration;

use aqueduct::Code;
use aqueduct::tls::{CaRoots, ClientAuth, Identity, ServerTls};
use interop::certs::TempDir;

use super::{Pki, leaf, presented_leaf, serve, who, who_fails, within};

const BILLING: &str = "spiffe://example.org/ns/billing/sa/api";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_identity_reaches_new_connections_and_leaves_open_ones_alone() {
    let a = Pki::new("rotation CA A");
    let b = Pki::new("rotation CA B");
    let tls = a.server_tls();
    let server = serve(tls.clone()).await;
    let trust_both = [a.ca.ca_pem(), b.ca.ca_pem()];

    // Channel one trusts only CA A: it can only ever connect to cert A.
    let one = server.channel(a.client_tls());
    who(&one).await.unwrap();

    tls.set_identity(b.server.identity()).unwrap();
    assert_eq!(*tls.reloads().borrow(), 1);

    // New connections get cert B.
    assert_eq!(
        presented_leaf(server.addr, &trust_both).await.unwrap(),
        leaf(&b.server)
    );
    server.assert_serves(b.client_tls()).await;
    let status = who_fails(&server.channel(a.client_tls()), Code::Unavailable).await;
    assert!(status.message().contains("unknown issuer"), "{status}");

    // Channel one's connection, opened with cert A, goes on serving calls.
    for _ in 0..3 {
        who(&one).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_rereads_the_files_and_keeps_the_last_good_material() {
    let pki = Pki::new("files CA");
    let trust = [pki.ca.ca_pem()];
    let (a, b) = (&pki.server, pki.ca.server(&["localhost", "127.0.0.1"]));
    let dir = TempDir::new();
    let (cert, key) = a.write(dir.path(), "server");
    let identity = Identity::from_pem_files(&cert, &key).unwrap();
    let tls = ServerTls::builder(identity).build().unwrap();
    let server = serve(tls.clone()).await;
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(a));

    // Unchanged files: nothing to swap.
    assert!(!tls.reload().unwrap());

    // Cert B in the same files.
    let _ = b.write(dir.path(), "server");
    assert!(tls.reload().unwrap());
    assert!(!tls.reload().unwrap(), "B is what is in use now");
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&b));

    // Garbage in the certificate file: refused, saying which file; B stays.
    std::fs::write(&cert, "garbage").unwrap();
    let err = tls.reload().unwrap_err().to_string();
    println!("refused as expected: {err}");
    assert!(err.contains(&cert.display().to_string()), "{err}");
    assert!(err.contains("no CERTIFICATE found"), "{err}");
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&b));

    // A certificate whose key is not the one in the key file.
    let c = pki.ca.server(&["localhost", "127.0.0.1"]);
    std::fs::write(&cert, &c.cert_pem).unwrap();
    let err = tls.reload().unwrap_err().to_string();
    println!("refused as expected: {err}");
    assert!(err.contains("does not match"), "{err}");
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&b));

    // A key file that is gone.
    std::fs::remove_file(&key).unwrap();
    let err = tls.reload().unwrap_err().to_string();
    println!("refused as expected: {err}");
    assert!(err.contains("cannot read"), "{err}");
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&b));

    // Put right, it loads: C with its key.
    let _ = c.write(dir.path(), "server");
    assert!(tls.reload().unwrap());
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&c));
    assert_eq!(
        *tls.reloads().borrow(),
        2,
        "two swaps; the failures swapped nothing"
    );
    server.assert_serves(pki.client_tls()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_swaps_in_changed_files_and_tells_who_listens() {
    let pki = Pki::new("watch CA");
    let trust = [pki.ca.ca_pem()];
    let dir = TempDir::new();
    let (cert, key) = pki.server.write(dir.path(), "server");
    let tls = ServerTls::builder(Identity::from_pem_files(&cert, &key).unwrap())
        .build()
        .unwrap();
    let server = serve(tls.clone()).await;
    let _watch = tls.watch(Duration::from_millis(20));
    let mut reloads = tls.reloads();
    assert_eq!(*reloads.borrow_and_update(), 0);

    // The watch may read the files between the two writes (cert B, key A):
    // that reload fails and swaps nothing; a later one sees both.
    let b = pki.ca.server(&["localhost", "127.0.0.1"]);
    let _ = b.write(dir.path(), "server");
    within("the watch to reload", reloads.changed())
        .await
        .unwrap();
    assert_eq!(*reloads.borrow_and_update(), 1);
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&b));
    server.assert_serves(pki.client_tls()).await;

    // Once more, to see it keeps watching.
    let c = pki.ca.server(&["localhost", "127.0.0.1"]);
    let _ = c.write(dir.path(), "server");
    within("the watch to reload again", reloads.changed())
        .await
        .unwrap();
    assert_eq!(presented_leaf(server.addr, &trust).await.unwrap(), leaf(&c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_roots_rotate_with_set_client_auth_and_reload() {
    let pki = Pki::new("server CA");
    let one = Pki::new("clients CA one");
    let two = Pki::new("clients CA two");
    let from_one = pki.client_tls().identity(one.ca.client(BILLING).identity());
    let from_two = pki.client_tls().identity(two.ca.client(BILLING).identity());

    let tls = ServerTls::builder(pki.server.identity())
        .client_auth(ClientAuth::Required(one.ca.roots()))
        .build()
        .unwrap();
    let server = serve(tls.clone()).await;
    server.assert_serves(from_one.clone()).await;
    let status = who_fails(&server.channel(from_two.clone()), Code::Unavailable).await;
    assert!(status.message().contains("UnknownCA"), "{status}");

    tls.set_client_auth(ClientAuth::Required(two.ca.roots()))
        .unwrap();
    server.assert_serves(from_two.clone()).await;
    who_fails(&server.channel(from_one.clone()), Code::Unavailable).await;

    // Roots from a file, rotated by rewriting it and reloading.
    let dir = TempDir::new();
    let roots = dir.path().join("clients.pem");
    std::fs::write(&roots, one.ca.ca_pem()).unwrap();
    tls.set_client_auth(ClientAuth::Required(
        CaRoots::from_pem_file(&roots).unwrap(),
    ))
    .unwrap();
    server.assert_serves(from_one.clone()).await;
    assert!(!tls.reload().unwrap());
    std::fs::write(&roots, two.ca.ca_pem()).unwrap();
    assert!(tls.reload().unwrap());
    server.assert_serves(from_two).await;
    who_fails(&server.channel(from_one), Code::Unavailable).await;
}
