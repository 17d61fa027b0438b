//! `cargo xtask services up|down|status`: the servers the integration tests talk to.
//!
//! Three servers run on loopback, each installed only when missing and started only when not
//! already answering, so `up` is idempotent and cheap the second time:
//!
//! - **moto** (`moto_server`, Python) in a venv under `.services/venv`, at
//!   `http://127.0.0.1:9100` (env `WARD_TEST_MOTO_ENDPOINT`). It reports server-side encryption
//!   like AWS and implements the bucket encryption, public-access-block and versioning calls; it
//!   also serves KMS on the same port.
//! - **s3s-fs** (`cargo install s3s-fs@0.14.1`), at `http://127.0.0.1:9200` with fixed test
//!   credentials (env `WARD_TEST_S3S_ENDPOINT`, `WARD_TEST_S3S_ACCESS_KEY`,
//!   `WARD_TEST_S3S_SECRET_KEY`), data under `.services/s3s-data`. It checks signatures and
//!   presigned-URL expiry and drops server-side-encryption headers.
//!
//! - **clamd** (ClamAV's daemon, Debian's `clamav-daemon`, installed with apt-get when missing)
//!   at `127.0.0.1:3310` and on the Unix socket `.services/clamd/clamd.sock` (env
//!   `WARD_TEST_CLAMD`, `WARD_TEST_CLAMD_SOCKET`). ClamAV's signature database cannot be
//!   downloaded on these machines, so it loads only `xtask/clamav/ward-test.ndb`: the EICAR test
//!   file (`Ward.Test.Eicar`) and the marker `WARD-TEST-MALWARE-MARKER-3f9c2a71`
//!   (`Ward.Test.Marker`), which the tests hide inside valid JPEGs and PDFs. Its
//!   `StreamMaxLength` is 12 MiB, above ward's 10 MiB upload limit.
//!
//! Logs go to `.services/<name>.log` and process ids to `.services/<name>.pid`; `down` stops only
//! the processes named in those files.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{self, step};

/// Where moto listens.
const MOTO_ADDR: &str = "127.0.0.1:9100";
/// Where clamd listens on TCP.
const CLAMD_ADDR: &str = "127.0.0.1:3310";
/// clamd's `StreamMaxLength`, in MiB.
const CLAMD_STREAM_MAX_MIB: u32 = 12;

/// Where s3s-fs listens.
const S3S_ADDR: &str = "127.0.0.1:9200";
/// moto, pinned so every machine runs the server the tests were written against.
const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";
/// s3s-fs version; later versions need a newer rustc than the pinned toolchain.
const S3S_FS_VERSION: &str = "0.14.1";
/// Fixed, test-only credentials for s3s-fs (loopback only, no data of value).
const S3S_ACCESS_KEY: &str = "ward-test-access-key";
/// Fixed, test-only secret for s3s-fs (loopback only, no data of value).
const S3S_SECRET_KEY: &str = "ward-test-secret-key-not-for-production";
/// How long a freshly started server gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: cargo xtask services up|down|status";

pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("up") => up(),
        Some("down") => down(),
        Some("status") => {
            status();
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// The environment the integration tests read, set for every child process started afterwards.
pub(crate) fn export_env() {
    cmd::set_child_env("WARD_TEST_MOTO_ENDPOINT", &format!("http://{MOTO_ADDR}"));
    cmd::set_child_env("WARD_TEST_S3S_ENDPOINT", &format!("http://{S3S_ADDR}"));
    cmd::set_child_env("WARD_TEST_S3S_ACCESS_KEY", S3S_ACCESS_KEY);
    cmd::set_child_env("WARD_TEST_S3S_SECRET_KEY", S3S_SECRET_KEY);
    cmd::set_child_env("WARD_TEST_CLAMD", &format!("tcp://{CLAMD_ADDR}"));
    if let Ok(dir) = services_dir() {
        let socket = dir.join("clamd").join("clamd.sock");
        cmd::set_child_env(
            "WARD_TEST_CLAMD_SOCKET",
            &format!("unix:{}", socket.display()),
        );
    }
}

/// Installs what is missing and starts what is not answering, then waits until both answer.
pub(crate) fn up() -> Result<()> {
    let dir = services_dir()?;

    step("services: moto");
    let moto = ensure_moto_installed(&dir)?;
    start_unless_answering(
        "moto",
        MOTO_ADDR,
        answers,
        Command::new(&moto).args(["-H", "127.0.0.1", "-p", port_of(MOTO_ADDR)]),
        &dir,
    )?;

    step("services: s3s-fs");
    let s3s = ensure_s3s_installed()?;
    let data = dir.join("s3s-data");
    fs::create_dir_all(&data).with_context(|| format!("could not create {}", data.display()))?;
    start_unless_answering(
        "s3s-fs",
        S3S_ADDR,
        answers,
        Command::new(&s3s)
            .args(["--host", "127.0.0.1", "--port", port_of(S3S_ADDR)])
            .args([
                "--access-key",
                S3S_ACCESS_KEY,
                "--secret-key",
                S3S_SECRET_KEY,
            ])
            .arg(&data),
        &dir,
    )?;

    step("services: clamd");
    crate::tools::ensure_debian_packages(&[("clamd", "command -v clamd", "clamav-daemon")])?;
    let conf = clamd_config(&dir)?;
    start_unless_answering(
        "clamd",
        CLAMD_ADDR,
        clamd_answers,
        Command::new("clamd").arg("--config-file").arg(&conf),
        &dir,
    )?;

    export_env();
    println!(
        "services are up: moto at http://{MOTO_ADDR}, s3s-fs at http://{S3S_ADDR}, clamd at \
         tcp://{CLAMD_ADDR}"
    );
    Ok(())
}

/// Stops the servers this task started, waits until their ports are free, and starts them
/// again: a fresh moto, which keeps in memory every object it ever held (gigabytes after a
/// load run, freed only when it stops) and slows as it grows.
pub(crate) fn restart() -> Result<()> {
    down()?;
    let deadline = Instant::now() + START_TIMEOUT;
    while answers(MOTO_ADDR) || answers(S3S_ADDR) || clamd_answers(CLAMD_ADDR) {
        if Instant::now() > deadline {
            bail!(
                "moto (http://{MOTO_ADDR}) or s3s-fs (http://{S3S_ADDR}) still answers {}s after \
                 `services down`: one not started by `cargo xtask services up` has to be stopped \
                 by hand",
                START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    up()
}

/// Stops the servers this task started (by the ids in their pid files).
fn down() -> Result<()> {
    let dir = services_dir()?;
    for name in ["moto", "s3s-fs", "clamd"] {
        let pid_file = dir.join(format!("{name}.pid"));
        let Ok(pid) = fs::read_to_string(&pid_file) else {
            println!("{name}: no pid file, nothing to stop");
            continue;
        };
        let pid = pid.trim();
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            bail!("{} does not hold a process id", pid_file.display());
        }
        let stopped = Command::new("kill")
            .arg(pid)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        println!(
            "{name}: {} (pid {pid})",
            if stopped {
                "stopped"
            } else {
                "was not running"
            }
        );
        fs::remove_file(&pid_file)
            .with_context(|| format!("could not remove {}", pid_file.display()))?;
    }
    Ok(())
}

/// Prints whether each server answers.
fn status() {
    for (name, addr) in [("moto", MOTO_ADDR), ("s3s-fs", S3S_ADDR)] {
        let state = if answers(addr) { "up" } else { "down" };
        println!("{name:8} http://{addr}  {state}");
    }
    let state = if clamd_answers(CLAMD_ADDR) {
        "up"
    } else {
        "down"
    };
    println!("{:8} tcp://{CLAMD_ADDR}  {state}", "clamd");
}

fn services_dir() -> Result<PathBuf> {
    let dir = cmd::root().join(".services");
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    Ok(dir)
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or(addr)
}

/// Creates the venv and installs moto into it unless the pinned version is already there.
fn ensure_moto_installed(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("venv");
    crate::tools::ensure_in_venv(&venv, MOTO_REQUIREMENT, "moto", "moto", &[])?;
    let moto = venv.join("bin").join("moto_server");
    if !moto.exists() {
        bail!("pip finished but {} is missing", moto.display());
    }
    Ok(moto)
}

/// Installs s3s-fs with `cargo install` unless it is already on the path.
fn ensure_s3s_installed() -> Result<PathBuf> {
    let installed = cargo_bin("s3s-fs");
    if cmd::has_tool("s3s-fs", &["--version"]) {
        println!("s3s-fs is installed");
        return Ok(PathBuf::from("s3s-fs"));
    }
    if installed.exists() {
        println!("s3s-fs is installed ({})", installed.display());
        return Ok(installed);
    }
    println!("installing s3s-fs {S3S_FS_VERSION} (missing; takes a few minutes)");
    cmd::cargo(&[
        "install",
        &format!("s3s-fs@{S3S_FS_VERSION}"),
        "--locked",
        "--features",
        "binary",
    ])?;
    Ok(if installed.exists() {
        installed
    } else {
        PathBuf::from("s3s-fs")
    })
}

/// Where `cargo install` puts binaries.
fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin").join(name)
}

/// Starts `command` in the background (log and pid under `dir`) unless `addr` already answers,
/// then waits until it does.
fn start_unless_answering(
    name: &str,
    addr: &str,
    answers: fn(&str) -> bool,
    command: &mut Command,
    dir: &Path,
) -> Result<()> {
    if answers(addr) {
        println!("{name} already answers at {addr}");
        return Ok(());
    }
    let log_path = dir.join(format!("{name}.log"));
    let log = File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    let child = command
        .current_dir(cmd::root())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .with_context(|| format!("could not start {name}"))?;
    let pid = child.id();
    fs::write(dir.join(format!("{name}.pid")), format!("{pid}\n"))?;
    println!("started {name} (pid {pid}), log in {}", log_path.display());

    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if answers(addr) {
            println!("{name} answers at {addr}");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "{name} did not answer at {addr} within {}s; see {}",
        START_TIMEOUT.as_secs(),
        log_path.display()
    )
}

/// Writes clamd's configuration and its test database under `.services/clamd`; returns the
/// configuration's path. clamd stays in the foreground so its pid file names it.
fn clamd_config(dir: &Path) -> Result<PathBuf> {
    let home = dir.join("clamd");
    let db = home.join("db");
    fs::create_dir_all(&db).with_context(|| format!("could not create {}", db.display()))?;
    let signatures = cmd::root().join("xtask/clamav/ward-test.ndb");
    fs::copy(&signatures, db.join("ward-test.ndb"))
        .with_context(|| format!("could not copy {}", signatures.display()))?;
    let (host, port) = CLAMD_ADDR.rsplit_once(':').unwrap_or((CLAMD_ADDR, "3310"));
    let conf = home.join("clamd.conf");
    fs::write(
        &conf,
        format!(
            "Foreground yes\n\
             DatabaseDirectory {db}\n\
             TCPAddr {host}\n\
             TCPSocket {port}\n\
             LocalSocket {socket}\n\
             StreamMaxLength {CLAMD_STREAM_MAX_MIB}M\n\
             MaxThreads 4\n\
             Bytecode no\n",
            db = db.display(),
            socket = home.join("clamd.sock").display(),
        ),
    )
    .with_context(|| format!("could not write {}", conf.display()))?;
    Ok(conf)
}

/// Whether clamd answers `PING` at `addr`.
fn clamd_answers(addr: &str) -> bool {
    let Ok(sock) = addr.parse::<SocketAddr>() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&sock, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"zPING\0").is_err() {
        return false;
    }
    let mut reply = [0u8; 5];
    stream.read_exact(&mut reply).is_ok() && &reply == b"PONG\0"
}

/// Whether an HTTP server answers a plain request at `addr` (any status line counts).
fn answers(addr: &str) -> bool {
    let Ok(sock) = addr.parse::<SocketAddr>() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&sock, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

/// Where ward-domain's tests find PostgreSQL (trust auth, database `test`).
const POSTGRES_ADDR: &str = "127.0.0.1:5432";

/// Makes sure PostgreSQL answers on [`POSTGRES_ADDR`]: when it does not, starts the machine's
/// clusters (`pg_ctlcluster`, Debian's PostgreSQL packages) and waits for it. ward-domain's tests
/// connect there (or to `WARD_TEST_DATABASE_URL`).
pub(crate) fn postgres_up() -> Result<()> {
    if postgres_answers() {
        println!("PostgreSQL answers at {POSTGRES_ADDR}");
        return Ok(());
    }
    let clusters = Path::new("/etc/postgresql");
    if !clusters.is_dir() {
        bail!(
            "PostgreSQL does not answer at {POSTGRES_ADDR} and no cluster is installed under /etc/postgresql"
        );
    }
    for version in fs::read_dir(clusters)? {
        let version = version?.file_name();
        let version = version.to_string_lossy();
        step(&format!("starting PostgreSQL {version}"));
        // A cluster that is already running or fails to start is reported by the wait below.
        let _ = cmd::run(
            "pg_ctlcluster",
            &["--skip-systemctl-redirect", &version, "main", "start"],
        );
    }
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if postgres_answers() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!(
        "PostgreSQL did not answer at {POSTGRES_ADDR} within {}s",
        START_TIMEOUT.as_secs()
    )
}

/// Whether something accepts connections on the PostgreSQL port.
fn postgres_answers() -> bool {
    POSTGRES_ADDR
        .parse::<SocketAddr>()
        .ok()
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some()
}
