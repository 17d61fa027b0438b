//! [`ClamdScanner`]: ClamAV's daemon over TCP or a Unix socket, with the `INSTREAM` command.
//!
//! The protocol (clamd(8)): the client sends `zINSTREAM\0`, then the file in chunks, each a
//! 4-byte big-endian length and that many bytes, then a zero length. clamd answers one
//! NUL-terminated line: `stream: OK`, `stream: <signature> FOUND`, or `<message> ERROR` (among
//! them `INSTREAM size limit exceeded. ERROR` once more than its `StreamMaxLength` arrived, after
//! which it closes the connection). `zPING\0` is answered `PONG`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::Semaphore;

use super::{ScanError, Scanner, Signature, Verdict};

/// The longest answer read from clamd; a longer one is refused as not understood.
const MAX_REPLY: usize = 4096;
/// The bytes sent per `INSTREAM` chunk.
const CHUNK: usize = 64 * 1024;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClamdAddress {
    /// `host:port` (clamd's `TCPSocket` and `TCPAddr`).
    Tcp(String),
    /// A Unix socket's path (clamd's `LocalSocket`).
    Unix(PathBuf),
}

impl ClamdAddress {
    /// `tcp://host:port` or `unix:/path/to/clamd.ctl` (also `unix:///path`); `None` for any other
    /// form.
    ///
    /// ```
    /// use ward_domain::ClamdAddress;
    /// assert_eq!(
    ///     ClamdAddress::parse("tcp://127.0.0.1:3310"),
    ///     Some(ClamdAddress::Tcp("127.0.0.1:3310".into()))
    /// );
    /// assert_eq!(
    ///     ClamdAddress::parse("unix:/run/clamav/clamd.ctl"),
    ///     Some(ClamdAddress::Unix("/run/clamav/clamd.ctl".into()))
    /// );
    /// assert_eq!(ClamdAddress::parse("127.0.0.1:3310"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("tcp://") {
            let (host, port) = rest.rsplit_once(':')?;
            let valid = !host.is_empty()
                && !rest.contains('/')
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            return valid.then(|| Self::Tcp(rest.to_owned()));
        }
        let path = text.strip_prefix("unix:")?;
        let path = path.strip_prefix("//").unwrap_or(path);
        path.starts_with('/')
            .then(|| Self::Unix(PathBuf::from(path)))
    }
}

impl std::fmt::Display for ClamdAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "tcp://{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A [`Scanner`] that asks a ClamAV daemon (`clamd`), one connection per scan.
///
/// - **Limits.** A file longer than [`max_stream_bytes`](Self::with_max_stream_bytes) (set it to
///   clamd's `StreamMaxLength`; default 25 MiB, Debian's) is refused before a byte is sent
///   ([`ScanError::TooLarge`]); clamd's own refusal past its limit is the same error.
/// - **Time.** Connecting is bounded by `connect_timeout` (default 5 s) and a whole scan, the
///   wait for a free slot included, by `timeout` (default 60 s): [`ScanError::Timeout`].
/// - **Concurrency.** At most `max_concurrent` scans (default 4) talk to clamd at once; the rest
///   wait their turn, within their timeout. Match it to clamd's `MaxThreads`.
/// - **Memory.** The file is sent from the caller's buffer in 64 KiB chunks; clamd's answer is
///   read up to 4 KiB.
#[derive(Debug, Clone)]
pub struct ClamdScanner {
    address: ClamdAddress,
    connect_timeout: Duration,
    timeout: Duration,
    max_stream_bytes: u64,
    slots: Arc<Semaphore>,
}

impl ClamdScanner {
    /// clamd at `address`.
    pub fn new(address: ClamdAddress) -> Self {
        Self {
            address,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            max_stream_bytes: 25 * 1024 * 1024,
            slots: Arc::new(Semaphore::new(4)),
        }
    }

    /// clamd listening on TCP at `host:port`.
    pub fn tcp(address: impl Into<String>) -> Self {
        Self::new(ClamdAddress::Tcp(address.into()))
    }

    /// clamd listening on a Unix socket.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self::new(ClamdAddress::Unix(path.into()))
    }

    /// How long connecting may take, and how long a whole scan may take.
    pub fn with_timeouts(mut self, connect: Duration, scan: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = scan;
        self
    }

    /// The longest file sent to clamd (its `StreamMaxLength`).
    pub fn with_max_stream_bytes(mut self, bytes: u64) -> Self {
        self.max_stream_bytes = bytes;
        self
    }

    /// How many scans may talk to clamd at once (at least one).
    pub fn with_max_concurrent(mut self, scans: usize) -> Self {
        self.slots = Arc::new(Semaphore::new(scans.max(1)));
        self
    }

    /// Where clamd is asked.
    pub fn address(&self) -> &ClamdAddress {
        &self.address
    }

    fn unavailable(&self, e: &std::io::Error) -> ScanError {
        ScanError::Unavailable {
            address: self.address.to_string(),
            reason: e.kind().to_string(),
        }
    }

    /// A connection, within the connect timeout.
    async fn connect(&self) -> Result<Connection, ScanError> {
        let connecting = async {
            match &self.address {
                ClamdAddress::Tcp(addr) => tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map(Connection::Tcp),
                #[cfg(unix)]
                ClamdAddress::Unix(path) => tokio::net::UnixStream::connect(path)
                    .await
                    .map(Connection::Unix),
                #[cfg(not(unix))]
                ClamdAddress::Unix(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "unix sockets",
                )),
            }
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(self.unavailable(&e)),
            Err(_) => Err(ScanError::Unavailable {
                address: self.address.to_string(),
                reason: format!(
                    "no connection within {} ms",
                    self.connect_timeout.as_millis()
                ),
            }),
        }
    }

    async fn scan_in_turn(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ScanError::Protocol)?;
        let connection = self.connect().await?;
        let reply = match connection {
            Connection::Tcp(s) => instream(s, bytes).await,
            #[cfg(unix)]
            Connection::Unix(s) => instream(s, bytes).await,
        }
        .map_err(|e| self.unavailable(&e))?;
        verdict(&reply, bytes.len() as u64)
    }
}

enum Connection {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

#[async_trait::async_trait]
impl Scanner for ClamdScanner {
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        let size = bytes.len() as u64;
        if size > self.max_stream_bytes {
            return Err(ScanError::TooLarge {
                size,
                limit: Some(self.max_stream_bytes),
            });
        }
        tokio::time::timeout(self.timeout, self.scan_in_turn(bytes))
            .await
            .unwrap_or(Err(ScanError::Timeout(self.timeout)))
    }

    async fn ping(&self) -> Result<(), ScanError> {
        let timeout = self.connect_timeout;
        let asking = async {
            let reply = match self.connect().await? {
                Connection::Tcp(s) => command(s, b"zPING\0").await,
                #[cfg(unix)]
                Connection::Unix(s) => command(s, b"zPING\0").await,
            }
            .map_err(|e| self.unavailable(&e))?;
            if reply == b"PONG" {
                Ok(())
            } else {
                Err(ScanError::Protocol)
            }
        };
        tokio::time::timeout(timeout, asking)
            .await
            .unwrap_or(Err(ScanError::Timeout(timeout)))
    }

    fn name(&self) -> &'static str {
        "clamd"
    }
}

/// Sends `bytes` with `INSTREAM` and returns clamd's answer. The answer is read while sending,
/// so an early one (clamd's stream limit) is heard even though clamd then stops reading; when
/// sending fails, an answer clamd gave first still counts.
async fn instream<S>(stream: S, bytes: &[u8]) -> std::io::Result<Vec<u8>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let sending = async {
        writer.write_all(b"zINSTREAM\0").await?;
        for chunk in bytes.chunks(CHUNK) {
            let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            writer.write_all(&len.to_be_bytes()).await?;
            writer.write_all(chunk).await?;
        }
        writer.write_all(&0u32.to_be_bytes()).await?;
        writer.flush().await
    };
    let reading = read_reply(&mut reader);
    tokio::pin!(sending, reading);
    tokio::select! {
        reply = &mut reading => reply,
        sent = &mut sending => match sent {
            Ok(()) => reading.await,
            Err(e) => match reading.await {
                Ok(reply) if !reply.is_empty() => Ok(reply),
                _ => Err(e),
            },
        },
    }
}

/// Sends a one-line command and returns the answer.
async fn command<S>(mut stream: S, line: &[u8]) -> std::io::Result<Vec<u8>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(line).await?;
    stream.flush().await?;
    read_reply(&mut stream).await
}

/// Reads up to the answer's NUL (or the end of the connection), at most [`MAX_REPLY`] bytes;
/// the NUL is not returned.
async fn read_reply<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Vec<u8>> {
    let mut reply = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(reply);
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            reply.extend_from_slice(&buf[..end]);
            return Ok(reply);
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.len() > MAX_REPLY {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "clamd's answer is too long",
            ));
        }
    }
}

/// The verdict in clamd's answer to an `INSTREAM` of `size` bytes.
fn verdict(reply: &[u8], size: u64) -> Result<Verdict, ScanError> {
    let text = std::str::from_utf8(reply).map_err(|_| ScanError::Protocol)?;
    let text = text.trim_end_matches(['\n', '\r']).trim();
    let body = text.strip_prefix("stream:").map_or(text, str::trim);
    if body == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(name) = body.strip_suffix(" FOUND") {
        let name = name.trim();
        if name.is_empty() {
            return Err(ScanError::Protocol);
        }
        return Ok(Verdict::Infected {
            signature: Signature::new(name),
        });
    }
    if body.contains("size limit exceeded") {
        return Err(ScanError::TooLarge { size, limit: None });
    }
    if let Some(message) = body.strip_suffix("ERROR") {
        let message: String = message
            .trim()
            .chars()
            .take(200)
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        return Err(ScanError::Scanner(message));
    }
    Err(ScanError::Protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamds_answers_are_read_as_verdicts_or_typed_errors() {
        assert_eq!(verdict(b"stream: OK", 1).unwrap(), Verdict::Clean);
        assert_eq!(
            verdict(b"stream: Win.Test.EICAR_HDB-1 FOUND", 1).unwrap(),
            Verdict::Infected {
                signature: Signature::new("Win.Test.EICAR_HDB-1")
            }
        );
        assert!(matches!(
            verdict(b"INSTREAM size limit exceeded. ERROR", 9),
            Err(ScanError::TooLarge {
                size: 9,
                limit: None
            })
        ));
        assert!(matches!(
            verdict(b"stream: Can't allocate memory ERROR", 1),
            Err(ScanError::Scanner(m)) if m == "Can't allocate memory"
        ));
        for odd in [
            &b""[..],
            b"stream: FOUND",
            b"stream: ok",
            b"PONG",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(verdict(odd, 1), Err(ScanError::Protocol)),
                "{odd:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_answer_without_end_is_cut_at_the_bound() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let endless = vec![b'A'; 3 * MAX_REPLY];
        server.write_all(&endless).await.unwrap();
        let err = read_reply(&mut client).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}
