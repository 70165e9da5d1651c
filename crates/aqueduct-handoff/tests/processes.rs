//! Hand-offs between real, separate processes. This binary is its own child:
//! run with `AQUEDUCT_HANDOFF_CHILD` set, it plays the sending process.
//!
//! The cases: a TCP connection with peeked bytes, a listener and a file pass
//! from the child to this process, which continues the connection byte-exact
//! after the child has exited; a sender of another user is refused (as root,
//! with a child that drops to `nobody`); a sender outside an allow-list is
//! refused; descriptors attached beyond the protocol's count are closed and
//! the channel with them.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aqueduct_handoff::{Handoff, HandoffReceiver, HandoffSender, PeerPolicy, Prefixed};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixListener;

const CHILD: &str = "AQUEDUCT_HANDOFF_CHILD";
/// What the client sends; the child reads the first `PEEK` bytes of it.
const MESSAGE: &[u8] = b"hello, this connection was handed to another process";
const PEEK: usize = 5;
const FILE_TEXT: &str = "state written by the child\n";
/// Every wait in these tests ends.
const LIMIT: Duration = Duration::from_secs(20);

fn main() {
    if let Ok(role) = std::env::var(CHILD) {
        child(&role);
        return;
    }
    let cases: [(&str, fn()); 4] = [
        (
            "a connection, a listener and a file pass between processes",
            a_connection_a_listener_and_a_file_pass_between_processes,
        ),
        (
            "a sender of another user is refused",
            a_sender_of_another_user_is_refused,
        ),
        (
            "a sender outside the allow-list is refused",
            a_sender_outside_the_allow_list_is_refused,
        ),
        (
            "extra descriptors close the channel and are closed",
            extra_descriptors_close_the_channel_and_are_closed,
        ),
    ];
    for (name, case) in cases {
        case();
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed", cases.len());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str, mode: u32) -> Self {
        let dir =
            std::env::temp_dir().join(format!("aqueduct-handoff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts this binary as the child playing `role`, with `args`.
fn spawn_child(exe: &Path, role: &str, args: &[&Path], uid: Option<u32>) -> Child {
    let mut cmd = Command::new(exe);
    cmd.env(CHILD, role).args(args).stdout(Stdio::piped());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.spawn().unwrap()
}

/// Waits for the child to exit, within the limit, and says whether it succeeded.
fn wait(mut child: Child) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(status) => status.unwrap().success(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("child {id} did not exit");
        }
    }
}

fn a_connection_a_listener_and_a_file_pass_between_processes() {
    let dir = TempDir::new("pass", 0o700);
    let socket = dir.0.join("handoff.sock");
    let file = dir.0.join("state.txt");
    runtime().block_on(async {
        let control = UnixListener::bind(&socket).unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut child = spawn_child(&exe, "send", &[&socket, &file], None);

        // The child listens on TCP and says where; we connect as a client.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let child_addr: std::net::SocketAddr = line.trim().parse().unwrap();
        let mut client = std::net::TcpStream::connect(child_addr).unwrap();
        client.set_read_timeout(Some(LIMIT)).unwrap();
        client.write_all(MESSAGE).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();

        let (stream, _) = tokio::time::timeout(LIMIT, control.accept())
            .await
            .unwrap()
            .unwrap();
        let mut receiver = HandoffReceiver::new(stream, &PeerPolicy::SameUser).unwrap();
        // The connection: peeked bytes and addresses as the child saw them.
        let Some(Handoff::Connection(conn)) = recv(&mut receiver).await else {
            panic!("expected a connection");
        };
        assert_eq!(&conn.peeked[..], &MESSAGE[..PEEK]);
        assert_eq!(conn.local, child_addr);
        assert_eq!(conn.peer, client.local_addr().unwrap());
        // The child has exited by now or soon: the connection does not care.
        conn.socket.set_nonblocking(true).unwrap();
        let socket = tokio::net::TcpStream::from_std(conn.socket).unwrap();
        let mut served = Prefixed::new(conn.peeked, socket);
        let mut got = Vec::new();
        tokio::time::timeout(LIMIT, served.read_to_end(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, MESSAGE, "every byte once, in order");
        served.write_all(b"ack").await.unwrap();
        served.shutdown().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"ack");

        // The listener: still listening, now accepting here.
        let Some(Handoff::Listener(named)) = recv(&mut receiver).await else {
            panic!("expected a listener");
        };
        assert_eq!(named.name, "grpc");
        let listener = std::net::TcpListener::from(named.fd);
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let addr = listener.local_addr().unwrap();
        let dial = tokio::net::TcpStream::connect(addr);
        let (dialed, accepted) = tokio::join!(dial, listener.accept());
        assert_eq!(
            dialed.unwrap().local_addr().unwrap(),
            accepted.unwrap().1,
            "the handed-over listener accepts connections"
        );

        // The file, read from where the child left its offset (the start).
        let Some(Handoff::File(named)) = recv(&mut receiver).await else {
            panic!("expected a file");
        };
        assert_eq!(named.name, "state");
        // Received descriptors do not leak into programs this process runs.
        let flags = rustix::io::fcntl_getfd(&named.fd).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC), "{flags:?}");
        let mut text = String::new();
        std::fs::File::from(named.fd)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, FILE_TEXT);

        // The child closed the channel between messages: a clean end.
        assert!(recv(&mut receiver).await.is_none());
        assert!(wait(child), "the sending child failed");
    });
}

fn a_sender_of_another_user_is_refused() {
    if rustix::process::geteuid().as_raw() != 0 {
        // Dropping to another user needs root; the allow-list case below runs
        // the same refusal path as any user.
        println!(
            "(not root: cannot start a child of another user; the allow-list case covers the refusal)"
        );
        return;
    }
    // The child runs as nobody: its binary and the socket must be reachable.
    let dir = TempDir::new("user", 0o755);
    let exe = dir.0.join("peer");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.0.join("handoff.sock");
    runtime().block_on(async {
        let control = UnixListener::bind(&socket).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
        let child = spawn_child(&exe, "send-file", &[&socket], Some(65534));
        let (stream, _) = tokio::time::timeout(LIMIT, control.accept())
            .await
            .unwrap()
            .unwrap();
        let refused = HandoffReceiver::new(stream, &PeerPolicy::SameUser).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(refused.to_string().contains("65534"), "{refused}");
        // Refused before a byte was read: the child's send fails or not, but
        // nothing reached us; it exits either way.
        let _ = wait(child);
    });
}

fn a_sender_outside_the_allow_list_is_refused() {
    runtime().block_on(async {
        let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
        let me = rustix::process::getuid().as_raw();
        let others = PeerPolicy::Users(vec![me.wrapping_add(1)]);
        let refused = HandoffReceiver::new(ours, &others).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(PeerPolicy::Users(vec![me]).admits(me));
        drop(theirs);
    });
}

/// The next message, within the limit.
async fn recv(receiver: &mut HandoffReceiver) -> Option<Handoff> {
    tokio::time::timeout(LIMIT, receiver.recv())
        .await
        .unwrap()
        .unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn extra_descriptors_close_the_channel_and_are_closed() {
    runtime().block_on(async {
        let before = open_fds();
        // 3 fit the control buffer's slack; 9 are truncated by the kernel.
        for extra in [3, 9] {
            let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
            let mut receiver = HandoffReceiver::new(ours, &PeerPolicy::SameUser).unwrap();
            // A well-formed file message with `extra` descriptors attached.
            let mut frame = b"AQH1\x03\x01\x03\x00\x01\x00f".to_vec();
            let files: Vec<std::fs::File> = (0..extra)
                .map(|_| std::fs::File::open("/dev/null").unwrap())
                .collect();
            let fds: Vec<_> = files.iter().map(std::os::fd::AsFd::as_fd).collect();
            let mut space =
                vec![std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(9))];
            let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
            assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
            rustix::net::sendmsg(
                &theirs,
                &[std::io::IoSlice::new(&frame)],
                &mut control,
                rustix::net::SendFlags::empty(),
            )
            .unwrap();
            drop(files);
            frame.clear();
            let error = tokio::time::timeout(LIMIT, receiver.recv())
                .await
                .unwrap()
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
            assert!(error.to_string().contains("truncated"), "{error}");
        }
        assert_eq!(open_fds(), before, "no descriptor leaked");
    });
}

/// The child's side.
fn child(role: &str) {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    runtime().block_on(async {
        let mut sender = HandoffSender::connect(&args[0]).await.unwrap();
        match role {
            "send" => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let local = listener.local_addr().unwrap();
                println!("{local}");
                std::io::stdout().flush().unwrap();
                let (mut stream, peer) = listener.accept().await.unwrap();
                let mut peeked = [0; PEEK];
                stream.read_exact(&mut peeked).await.unwrap();
                sender
                    .send_connection(&stream, &peeked, local, peer)
                    .await
                    .unwrap();
                drop(stream);

                let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                sender.send_listener("grpc", &grpc).await.unwrap();

                std::fs::write(&args[1], FILE_TEXT).unwrap();
                let file = std::fs::File::open(&args[1]).unwrap();
                sender.send_file("state", &file).await.unwrap();
            }
            "send-file" => {
                // May fail: the receiver hangs up on us.
                let _ = sender
                    .send_file("devnull", std::fs::File::open("/dev/null").unwrap())
                    .await;
            }
            other => panic!("unknown child role {other}"),
        }
    });
}
