//! What the comparison drivers (`bench-compare`, `bench-tls`) share: server
//! processes pinned to a core, `h2load` runs, numbers out of JSON lines,
//! medians, and alternation of implementations run by run.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A server process, stopped (SIGINT) by [`stop`](Self::stop) and killed if
/// dropped while running.
pub struct Server {
    child: Child,
    /// What it printed as its address: `host:port`.
    pub addr: String,
}

impl Server {
    /// `bench-server --impl which --runtime runtime --threads 1`, then
    /// `extra`; on core 0 (`taskset -c 0`) when `pin`.
    pub fn start(
        bin: &Path,
        which: &str,
        runtime: &str,
        pin: bool,
        extra: &[&str],
    ) -> anyhow::Result<Server> {
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(["--impl", which, "--runtime", runtime, "--threads", "1"]);
        cmd.args(extra);
        Self::spawn(cmd)
    }

    /// Starts `cmd` and reads the address off its first line (`... ADDR`).
    pub fn spawn(mut cmd: Command) -> anyhow::Result<Server> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        if addr.is_empty() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            bail!("server printed no address: {}", err.trim());
        }
        Ok(Server { child, addr })
    }

    /// `http://ADDR`.
    pub fn target(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its resident set, from `/proc`.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }

    /// CPU time it has used so far: see [`cpu_seconds_of`].
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(&self.child.id().to_string())
    }

    /// SIGINT, wait, and the `allocations N` line the server prints on exit.
    pub fn stop(mut self) -> anyhow::Result<Option<u64>> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Ok(err
            .lines()
            .find_map(|l| l.strip_prefix("allocations "))
            .and_then(|n| n.trim().parse().ok()))
    }
}

impl Drop for Server {
    /// A server whose measurement failed half-way must not outlive the harness.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU time process `pid` (or `self`) has used so far, user and system, all
/// threads, from `/proc/PID/stat` at the kernel's 100 ticks a second.
pub fn cpu_seconds_of(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it do not.
    let after = stat.rsplit_once(')').context("no ) in stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `after` starts at 3.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i - 3).context("short stat")?.parse::<f64>()?)
    };
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

/// The number after `"key":` in a flat JSON object.
pub fn num(json: &str, key: &str) -> anyhow::Result<f64> {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .with_context(|| format!("{key} missing in {json}"))?
        + pat.len();
    let rest = &json[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .unwrap_or(rest.len());
    Ok(rest[..end].parse()?)
}

/// Runs `cmd` and returns its stdout; fails, with its output, if it fails.
pub fn run_json(mut cmd: Command) -> anyhow::Result<String> {
    let out = cmd.output().context("running load")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// The median (the mean of the middle two for an even count; NaN for none).
pub fn median_f64(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `measure` for each of `impls`, `rounds` times, rotating the order
/// each round, and returns each one's medians (one per value `measure`
/// returns).
pub fn alternate(
    rounds: usize,
    impls: &[&str],
    mut measure: impl FnMut(&str) -> anyhow::Result<Vec<f64>>,
) -> anyhow::Result<BTreeMap<String, Vec<f64>>> {
    let mut samples: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for round in 0..rounds {
        for i in 0..impls.len() {
            let which = impls[(i + round) % impls.len()];
            let values = measure(which).with_context(|| format!("measuring {which}"))?;
            let slots = samples
                .entry(which.to_owned())
                .or_insert_with(|| vec![Vec::new(); values.len()]);
            for (slot, v) in slots.iter_mut().zip(values) {
                slot.push(v);
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|(k, mut v)| (k, v.iter_mut().map(|s| median_f64(s)).collect()))
        .collect())
}

/// A gRPC-framed `SayHelloRequest` with a 16-byte name, written to a
/// temporary file for `h2load -d`.
pub fn say_hello_body() -> anyhow::Result<PathBuf> {
    // The same bytes every time, so runs side by side may share the file.
    let body = std::env::temp_dir().join("aqueduct-bench-body.bin");
    let msg = prost::Message::encode_to_vec(&helloworld::pb::SayHelloRequest {
        name: "x".repeat(16),
    });
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(&msg);
    std::fs::write(&body, framed).with_context(|| format!("writing {}", body.display()))?;
    Ok(body)
}

/// One `h2load` run's result.
#[derive(Debug, Clone)]
pub struct H2load {
    /// Requests per second.
    pub rps: f64,
    /// Over TLS: `"TLSv1.3 TLS_AES_128_GCM_SHA256 X25519 253 bits"`, from its
    /// report.
    pub tls: Option<String>,
    /// With a server to watch: the CPU time it spent per request while
    /// measured (after the warm-up), in microseconds.
    pub server_cpu_us: Option<f64>,
}

/// Unary SayHello calls from `h2load -c 10 -m 10 -t 1` on core 1 against
/// `target` (`http://` or `https://HOST:PORT`) for `seconds` after `warmup`,
/// with the gRPC-framed `body`. Fails if a request failed or, over TLS, if
/// h2load did not negotiate h2. With `server`, also its CPU time per request,
/// sampled from just after the warm-up to the end.
pub fn h2load(
    target: &str,
    seconds: f64,
    warmup: f64,
    body: &Path,
    server: Option<&Server>,
) -> anyhow::Result<H2load> {
    let url = format!("{target}/helloworld.v1.GreeterService/SayHello");
    let warmup = warmup.ceil().max(1.0);
    let child = Command::new("taskset")
        .args(["-c", "1", "h2load", "-c", "10", "-m", "10", "-t", "1"])
        .args(["-D", &format!("{}", seconds.ceil() as u64)])
        .args(["--warm-up-time", &format!("{}", warmup as u64)])
        .arg("-d")
        .arg(body)
        .args([
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running h2load (apt-get install nghttp2-client)")?;
    // Not synchronisation: a sampling point a little past h2load's warm-up
    // (which starts once its connections are up, within milliseconds here).
    let sampled = match server {
        Some(server) => {
            std::thread::sleep(Duration::from_secs_f64(warmup + 0.1));
            Some((server.cpu_seconds()?, Instant::now()))
        }
        None => None,
    };
    let out = child.wait_with_output().context("waiting for h2load")?;
    let server_cpu = match (server, sampled) {
        (Some(server), Some((cpu, at))) => {
            Some((server.cpu_seconds()? - cpu, at.elapsed().as_secs_f64()))
        }
        _ => None,
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .with_context(|| format!("h2load output: {text}"))?;
    let rps: f64 = line
        .split(',')
        .nth(1)
        .and_then(|s| s.trim().strip_suffix(" req/s"))
        .context("req/s")?
        .trim()
        .parse()?;
    if !text.contains(" 0 failed") {
        bail!("h2load saw failures: {text}");
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let tls = if target.starts_with("https://") {
        if field("Application protocol:").as_deref() != Some("h2") {
            bail!("h2load did not negotiate h2 over TLS: {text}");
        }
        Some(
            [
                field("TLS Protocol:"),
                field("Cipher:"),
                field("Server Temp Key:"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        )
    } else {
        None
    };
    Ok(H2load {
        rps,
        tls,
        // The server was loaded at `rps` for the sampled time.
        server_cpu_us: server_cpu.map(|(cpu, secs)| cpu * 1e6 / (rps * secs).max(1.0)),
    })
}
/// One row of the result table.
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// In what.
    pub unit: &'static str,
    /// By implementation (`aqueduct`, `tonic`, `connect`, `h2`).
    pub values: BTreeMap<String, f64>,
    /// The ratio target and whether higher is better.
    pub target: Option<(f64, bool)>,
}

/// A figure with as many decimals as it is worth.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A target ratio: as given (`1.5`), or to two decimals when measured.
fn fmt_target(x: f64) -> String {
    if (x * 100.0).fract() == 0.0 {
        format!("{x}")
    } else {
        format!("{x:.2}")
    }
}

/// Prints `rows` as a Markdown table: aqueduct, tonic and bare h2 side by
/// side, the Aqueduct/tonic ratio, and whether it meets the row's target;
/// when any row has a `connect` figure, also a connect-rust column beside
/// tonic's and an Aqueduct/connect-rust ratio (`-` where it has none).
pub fn print_table(rows: &[Row]) {
    let connect = rows.iter().any(|r| r.values.contains_key("connect"));
    if connect {
        println!(
            "| scenario | unit | aqueduct | tonic | connect-rust | bare h2 | aqueduct/tonic | aqueduct/connect | target | met |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    } else {
        println!(
            "| scenario | unit | aqueduct | tonic | bare h2 | aqueduct/tonic | target | met |"
        );
        println!("|---|---|---:|---:|---:|---:|---|---|");
    }
    for r in rows {
        let get = |k: &str| r.values.get(k).copied().unwrap_or(f64::NAN);
        let (a, t, c, h) = (get("aqueduct"), get("tonic"), get("connect"), get("h2"));
        let ratio = a / t;
        let (target, met) = match r.target {
            Some((x, true)) => (
                format!(">= {}", fmt_target(x)),
                if ratio >= x { "yes" } else { "no" },
            ),
            Some((x, false)) => (
                format!("<= {}", fmt_target(x)),
                if ratio <= x { "yes" } else { "no" },
            ),
            None => ("-".into(), "-"),
        };
        if connect {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.unit,
                fmt_value(a),
                fmt_value(t),
                fmt_value(c),
                fmt_value(h),
                fmt_ratio(ratio),
                fmt_ratio(a / c),
                target,
                met
            );
        } else {
            println!(
                "| {} | {} | {} | {} | {} | {:.2} | {} | {} |",
                r.scenario,
                r.unit,
                fmt_value(a),
                fmt_value(t),
                fmt_value(h),
                ratio,
                target,
                met
            );
        }
    }
}

/// A ratio to two decimals, or `-` where a side has no figure.
fn fmt_ratio(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.2}")
    }
}

/// The row for the `idx`-th value of each implementation's medians.
pub fn row(
    scenario: &str,
    unit: &'static str,
    medians: &BTreeMap<String, Vec<f64>>,
    idx: usize,
    target: Option<(f64, bool)>,
) -> Row {
    Row {
        scenario: scenario.into(),
        unit,
        values: medians
            .iter()
            .map(|(k, v)| (k.clone(), v.get(idx).copied().unwrap_or(f64::NAN)))
            .collect(),
        target,
    }
}
