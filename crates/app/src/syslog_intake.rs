//! The syslog listener: RFC 5424 and RFC 3164 messages over UDP, and over TCP framed by octet
//! counting or by newlines (RFC 6587), stored in one organisation through the same intake as
//! `POST …/events` (product as configured, service `syslog`).
//!
//! Nothing a sender does stops the listener: a message that does not parse, a frame that is
//! too long and a connection that breaks are counted and logged. Memory stays bounded: parsed
//! messages wait in a bounded queue; when it is full, UDP datagrams are dropped (and counted)
//! and TCP senders wait, and the queue drains only as fast as the intake accepts batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base::OrganizationId;
use detect::intake::syslog;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event_intake::IntakeSource;
use crate::{App, AppError};

/// The longest message the parser takes; longer frames are garbage.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Where syslog messages go and how they are batched.
#[derive(Debug, Clone)]
pub struct SyslogSettings {
    /// The organisation the messages are stored in.
    pub organization_id: OrganizationId,
    /// Sigma `product` of the messages.
    pub product: String,
    /// Messages per stored batch, at most.
    pub batch_size: usize,
    /// A partial batch is stored after this long.
    pub flush_every: Duration,
    /// Parsed messages waiting to be stored, at most.
    pub queue_capacity: usize,
    /// TCP connections at once, at most; more wait to be accepted.
    pub max_connections: usize,
    /// A TCP connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        Self {
            organization_id: OrganizationId::from_uuid(uuid::Uuid::nil()),
            product: "linux".to_owned(),
            batch_size: 500,
            flush_every: Duration::from_secs(1),
            queue_capacity: 10_000,
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What the listener has seen since it started.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Messages parsed and queued.
    pub received: AtomicU64,
    /// Datagrams and frames that were not syslog messages.
    pub garbage: AtomicU64,
    /// UDP messages dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Messages stored.
    pub stored: AtomicU64,
    /// Messages lost because the store refused their batch (see the log).
    pub failed: AtomicU64,
}

/// A running listener: its counters and its tasks.
#[derive(Debug)]
pub struct SyslogListener {
    pub stats: Arc<SyslogStats>,
    tasks: Vec<JoinHandle<()>>,
}

impl SyslogListener {
    /// Serve the given sockets (either may be absent) until the tasks are aborted.
    pub fn start(
        app: App,
        settings: SyslogSettings,
        udp: Option<UdpSocket>,
        tcp: Option<TcpListener>,
    ) -> Self {
        let stats = Arc::new(SyslogStats::default());
        let (sender, receiver) = mpsc::channel(settings.queue_capacity.max(1));
        let mut tasks = vec![tokio::spawn(store_batches(
            app.clone(),
            settings.clone(),
            receiver,
            Arc::clone(&stats),
        ))];
        if let Some(socket) = udp {
            tasks.push(tokio::spawn(serve_udp(
                app.clone(),
                socket,
                sender.clone(),
                Arc::clone(&stats),
            )));
        }
        if let Some(listener) = tcp {
            tasks.push(tokio::spawn(serve_tcp(
                app,
                settings,
                listener,
                sender,
                Arc::clone(&stats),
            )));
        }
        Self { stats, tasks }
    }

    /// The tasks, for the caller to abort at shutdown.
    pub fn into_tasks(self) -> Vec<JoinHandle<()>> {
        self.tasks
    }
}

/// One parsed message as an NDJSON line, with its time.
fn to_line(app: &App, raw: &[u8], stats: &SyslogStats) -> Option<String> {
    let received_at = app.clock.now();
    match syslog::parse(raw, received_at) {
        Ok(message) => {
            let event = message.to_event(None, received_at);
            let mut fields = match event.fields {
                Value::Object(fields) => fields,
                _ => serde_json::Map::new(),
            };
            if let Ok(time) = event.time.format(&Rfc3339) {
                fields.insert("time".into(), Value::String(time));
            }
            stats.received.fetch_add(1, Ordering::Relaxed);
            Some(Value::Object(fields).to_string())
        }
        Err(error) => {
            stats.garbage.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, "syslog message not parsed");
            None
        }
    }
}

async fn serve_udp(
    app: App,
    socket: UdpSocket,
    queue: mpsc::Sender<String>,
    stats: Arc<SyslogStats>,
) {
    let mut buffer = vec![0_u8; MAX_MESSAGE_BYTES + 1];
    loop {
        let size = match socket.recv_from(&mut buffer).await {
            Ok((size, _)) => size,
            Err(error) => {
                tracing::warn!(%error, "syslog udp receive failed");
                continue;
            }
        };
        let Some(datagram) = buffer.get(..size) else { continue };
        if size > MAX_MESSAGE_BYTES {
            stats.garbage.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if let Some(line) = to_line(&app, datagram, &stats)
            && queue.try_send(line).is_err()
        {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn serve_tcp(
    app: App,
    settings: SyslogSettings,
    listener: TcpListener,
    queue: mpsc::Sender<String>,
    stats: Arc<SyslogStats>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "syslog tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (app, queue, stats) = (app.clone(), queue.clone(), Arc::clone(&stats));
        let idle = settings.idle_timeout;
        tokio::spawn(async move {
            serve_connection(&app, stream, &queue, &stats, idle).await;
            drop(slot);
        });
    }
}

async fn serve_connection(
    app: &App,
    mut stream: tokio::net::TcpStream,
    queue: &mpsc::Sender<String>,
    stats: &SyslogStats,
    idle: Duration,
) {
    let mut buffer = Vec::new();
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        loop {
            match next_frame(&mut buffer) {
                Ok(Some(frame)) => {
                    if let Some(line) = to_line(app, &frame, stats)
                        && queue.send(line).await.is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    // The stream cannot be resynchronised: count it and hang up.
                    stats.garbage.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%error, "syslog tcp framing error; connection closed");
                    return;
                }
            }
        }
        let read = match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
            Ok(Ok(read)) => read,
            Ok(Err(_)) | Err(_) => return,
        };
        if read == 0 {
            // A last unterminated line still counts.
            if !buffer.is_empty() && !buffer[0].is_ascii_digit() {
                let frame = std::mem::take(&mut buffer);
                if let Some(line) = to_line(app, &frame, stats) {
                    let _ = queue.send(line).await;
                }
            }
            return;
        }
        buffer.extend_from_slice(chunk.get(..read).unwrap_or_default());
    }
}

/// Why a TCP stream cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("octet count is not a number of at most 5 digits followed by a space")]
    BadCount,
    #[error("frame of {0} bytes is over the 65536-byte limit")]
    TooLong(usize),
}

/// Take the next complete frame off `buffer`: octet-counted (`<length> <message>`) when it
/// starts with a digit, else the bytes up to a newline (a `\r` before it is dropped). `None`
/// when more bytes are needed.
pub fn next_frame(buffer: &mut Vec<u8>) -> Result<Option<Vec<u8>>, FramingError> {
    // Blank lines between frames carry nothing.
    let blank = buffer.iter().take_while(|b| matches!(b, b'\n' | b'\r')).count();
    buffer.drain(..blank);
    let Some(first) = buffer.first() else { return Ok(None) };
    if first.is_ascii_digit() {
        let digits = buffer.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 5 {
            return Err(FramingError::BadCount);
        }
        let Some(separator) = buffer.get(digits) else { return Ok(None) };
        if *separator != b' ' {
            return Err(FramingError::BadCount);
        }
        let length: usize = std::str::from_utf8(&buffer[..digits])
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(FramingError::BadCount)?;
        if length > MAX_MESSAGE_BYTES {
            return Err(FramingError::TooLong(length));
        }
        let start = digits + 1;
        if buffer.len() < start + length {
            return Ok(None);
        }
        let frame = buffer[start..start + length].to_vec();
        buffer.drain(..start + length);
        return Ok(Some(frame));
    }
    match buffer.iter().position(|b| *b == b'\n') {
        Some(end) => {
            let mut frame: Vec<u8> = buffer.drain(..=end).collect();
            frame.pop();
            if frame.last() == Some(&b'\r') {
                frame.pop();
            }
            Ok(Some(frame))
        }
        None if buffer.len() > MAX_MESSAGE_BYTES => Err(FramingError::TooLong(buffer.len())),
        None => Ok(None),
    }
}

/// Gather queued messages into batches and store them through the intake; a full intake is
/// waited out (the queue then fills and pushes back on senders).
async fn store_batches(
    app: App,
    settings: SyslogSettings,
    mut receiver: mpsc::Receiver<String>,
    stats: Arc<SyslogStats>,
) {
    let source = IntakeSource {
        product: Some(settings.product.clone()),
        service: Some("syslog".to_owned()),
        category: None,
    };
    let batch_size = settings.batch_size.max(1);
    let mut lines: Vec<String> = Vec::with_capacity(batch_size);
    loop {
        let deadline = tokio::time::sleep(settings.flush_every);
        tokio::pin!(deadline);
        while lines.len() < batch_size {
            tokio::select! {
                received = receiver.recv() => match received {
                    Some(line) => lines.push(line),
                    None if lines.is_empty() => return,
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        if lines.is_empty() {
            continue;
        }
        let mut body = lines.join("\n");
        body.push('\n');
        let count = lines.len() as u64;
        lines.clear();
        loop {
            match app.ingest_system_events(settings.organization_id, &source, body.as_bytes()).await
            {
                Ok(report) => {
                    stats.stored.fetch_add(report.accepted, Ordering::Relaxed);
                    stats.failed.fetch_add(count - report.accepted, Ordering::Relaxed);
                    break;
                }
                Err(AppError::Throttled { retry_after_seconds }) => {
                    tokio::time::sleep(Duration::from_secs(retry_after_seconds.max(1))).await;
                }
                Err(error) => {
                    tracing::error!(%error, messages = count, "syslog messages not stored");
                    stats.failed.fetch_add(count, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_octet_counted_or_newline_delimited() {
        let mut buffer = b"11 <13>1 - - -\n<14>hello\r\n\n5 <1>a".to_vec();
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(b"<13>1 - - -".to_vec()));
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(b"<14>hello".to_vec()));
        assert_eq!(next_frame(&mut buffer).unwrap(), None, "4 of 5 bytes so far");
        buffer.push(b'b');
        assert_eq!(next_frame(&mut buffer).unwrap(), Some(b"<1>ab".to_vec()));
        assert!(buffer.is_empty());
        assert_eq!(next_frame(&mut b"12x".to_vec()), Err(FramingError::BadCount));
        assert_eq!(next_frame(&mut b"123456 x".to_vec()), Err(FramingError::BadCount));
        assert_eq!(next_frame(&mut b"99999 x".to_vec()), Err(FramingError::TooLong(99_999)));
        assert_eq!(next_frame(&mut b"12".to_vec()), Ok(None));
        let mut long = vec![b'<'; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(next_frame(&mut long), Err(FramingError::TooLong(_))));
    }
}
