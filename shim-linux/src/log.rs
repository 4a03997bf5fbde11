//! Logging as pasta and passt do it: `-q`/`-d`/`--trace` levels, `-l FILE` with a
//! size cap (`--log-size`) enforced by cutting about 30 % from the start of the file,
//! syslog once daemonised without a log file, and one line per event.
//!
//! Formats (passt's, so that tools and people reading its logs read ours):
//! - standard error: the message alone; with `-d`/`--trace`, prefixed by seconds since
//!   start (`12.3456: message`);
//! - log file: a header line `pasta VERSION: EXE (PID)`, then `12.3456: info:    message`
//!   (prefixes `ERROR:   `, `WARNING: `, `info:    ` and nine spaces for debug). When
//!   the file would outgrow its size, the oldest ~30 % is cut at a line boundary and
//!   the header becomes `… (PID) - log truncated at 12.3456`;
//! - syslog (`/dev/log`, datagrams): `<PRI>pasta[PID]: message`, facility daemon.
//!
//! The macros [`log_err!`](crate::log_err), [`log_warn!`](crate::log_warn),
//! [`log_info!`](crate::log_info), [`log_debug!`](crate::log_debug) and
//! [`log_trace!`](crate::log_trace) format only when their level is enabled.
//! [`log_ratelimit!`](crate::log_ratelimit) is for messages that can repeat per packet:
//! at most [`RATELIMIT_BURST`] a second from one call site, then a count of what was
//! suppressed.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How much to log, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Failures.
    Error = 0,
    /// Something the user should know about (`-q` keeps these and errors).
    Warning = 1,
    /// Normal progress (the default).
    Info = 2,
    /// `-d`.
    Debug = 3,
    /// `--trace`: per-packet and per-flow messages too.
    Trace = 4,
}

impl Level {
    /// Syslog severity (RFC 5424 §6.2.1): err 3, warning 4, info 6, debug 7.
    fn severity(self) -> u8 {
        match self {
            Level::Error => 3,
            Level::Warning => 4,
            Level::Info => 6,
            Level::Debug | Level::Trace => 7,
        }
    }

    /// The prefix of a log file line.
    fn file_prefix(self) -> &'static str {
        match self {
            Level::Error => "ERROR:   ",
            Level::Warning => "WARNING: ",
            Level::Info => "info:    ",
            Level::Debug | Level::Trace => "         ",
        }
    }
}

/// Share of the file cut from its start when it is full, in percent.
pub const CUT_PERCENT: u64 = 30;
/// The cut is rounded up to whole blocks of this many bytes.
const CUT_BLOCK: u64 = 4096;
/// Longest message kept; longer ones are truncated (passt uses BUFSIZ).
pub const MAX_LINE: usize = 8192;
/// Messages from one rate-limited call site allowed per second.
pub const RATELIMIT_BURST: u32 = 5;
/// Syslog facility "daemon" (RFC 5424 §6.2.1), already shifted.
const FACILITY_DAEMON: u8 = 3 << 3;
/// Where the system logger listens.
pub const SYSLOG_PATH: &str = "/dev/log";

/// What to set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// `pasta` or `passt`: the header's and syslog's name.
    pub name: &'static str,
    /// Most verbose level written.
    pub level: Level,
    /// `-l`: log to this file (created or truncated, mode 0600).
    pub file: Option<std::path::PathBuf>,
    /// `--log-size`, bytes.
    pub size: u64,
}

/// A log file with a size cap. Written with plain `write` at the file offset (always
/// the end); rotation moves data with `lseek`/`read`/`write` and shrinks the file with
/// `ftruncate`, so the only system calls it adds after isolation are those two
/// ([`FILE_SYSCALLS`]) and it needs no heap: the copy buffer is kept from the start.
struct LogFile {
    file: File,
    /// Cap, bytes.
    size: u64,
    /// Bytes in the file (= the file offset).
    written: u64,
    /// The first line without its newline, as written at start.
    header: String,
    /// Bytes cut from the start on rotation.
    cut: u64,
    /// Rotation's copy buffer.
    buf: Vec<u8>,
    /// Where rotation assembles the new first line.
    first: Vec<u8>,
}

/// System calls the log file needs beyond reading and writing: the seccomp filter
/// must allow them when a log file is open (see [`has_file`]).
pub const FILE_SYSCALLS: &[&str] = &["lseek", "ftruncate"];

/// Append `args` to `out` (a `String` with room reserved), stopping at `limit` bytes
/// and turning newlines into spaces: formatting never allocates.
struct Bounded<'a> {
    out: &'a mut String,
    limit: usize,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let c = if c == '\n' { ' ' } else { c };
            if self.out.len() + c.len_utf8() > self.limit {
                break;
            }
            self.out.push(c);
        }
        Ok(())
    }
}

impl LogFile {
    fn create(path: &Path, size: u64, header: String) -> io::Result<LogFile> {
        // Mode 0600, a symbolic link refused, an existing file of ours emptied.
        let mut file = crate::owner_only::create_file(path, true)?;
        file.write_all(header.as_bytes())?;
        file.write_all(b"\n")?;
        let cut = (size * CUT_PERCENT / 100).div_ceil(CUT_BLOCK) * CUT_BLOCK;
        Ok(LogFile {
            file,
            size,
            written: header.len() as u64 + 1,
            cut: cut.min(size),
            buf: Vec::with_capacity(CUT_BLOCK as usize),
            first: Vec::with_capacity(header.len() + 64),
            header,
        })
    }

    /// Append one line, cutting the oldest lines first if it would not fit.
    fn write_line(&mut self, line: &[u8], stamp: &str) -> io::Result<()> {
        if self.written + line.len() as u64 > self.size {
            self.rotate(stamp)?;
        }
        if self.written + line.len() as u64 > self.size {
            return Ok(()); // still no room: a cap smaller than a line; drop it
        }
        self.file.write_all(line)?;
        self.written += line.len() as u64;
        Ok(())
    }

    /// Read up to `len` bytes at `at` into the start of `buf`.
    fn read_at(&mut self, at: u64, len: usize) -> io::Result<usize> {
        self.file.seek(SeekFrom::Start(at))?;
        self.buf.resize(len, 0);
        let mut got = 0;
        while got < len {
            match self.file.read(&mut self.buf[got..len])? {
                0 => break,
                n => got += n,
            }
        }
        Ok(got)
    }

    /// Keep the header (marked as truncated) and move everything after the first line
    /// boundary past `cut` bytes to just after it; the file offset ends at the new end.
    fn rotate(&mut self, stamp: &str) -> io::Result<()> {
        let block = CUT_BLOCK as usize;
        let mut first = std::mem::take(&mut self.first);
        first.clear();
        first.extend_from_slice(self.header.as_bytes());
        first.extend_from_slice(b" - log truncated at ");
        first.extend_from_slice(stamp.as_bytes());
        first.push(b'\n');
        let r = self.move_after(&first, block);
        self.first = first;
        r
    }

    /// [`LogFile::rotate`] once the new first line is ready.
    fn move_after(&mut self, first: &[u8], block: usize) -> io::Result<()> {
        let hlen = first.len() as u64;
        let mut from = self.cut.max(hlen).min(self.written);
        // Cut at a line boundary: skip to just after the next newline.
        while from < self.written {
            let n = self.read_at(from, block)?;
            if n == 0 {
                from = self.written;
                break;
            }
            match self.buf[..n].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    from += i as u64 + 1;
                    break;
                }
                None => from += n as u64,
            }
        }
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(first)?;
        let mut to = hlen;
        while from < self.written {
            let want = ((self.written - from) as usize).min(block);
            let n = self.read_at(from, want)?;
            if n == 0 {
                break;
            }
            self.file.seek(SeekFrom::Start(to))?;
            self.file.write_all(&self.buf[..n])?;
            from += n as u64;
            to += n as u64;
        }
        self.file.set_len(to)?;
        self.file.seek(SeekFrom::Start(to))?;
        self.written = to;
        Ok(())
    }
}

/// The logger's state: where lines go.
pub struct Logger {
    name: &'static str,
    level: Level,
    start: Instant,
    /// Our PID, for syslog lines (read once: getpid is not allowed after isolation).
    pid: u32,
    /// Standard error, while we have one (until daemonised).
    stderr: Option<Box<dyn Write + Send>>,
    file: Option<LogFile>,
    syslog: Option<UnixDatagram>,
    /// The message being written, and the line built around it: reserved at start so
    /// that logging never allocates.
    msg: String,
    line: String,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("name", &self.name)
            .field("level", &self.level)
            .field("file", &self.file.is_some())
            .field("syslog", &self.syslog.is_some())
            .finish()
    }
}

impl Logger {
    /// A logger for `config`, writing to `stderr` until [`Logger::daemonised`]. Opens
    /// the log file (created, or an existing one of ours emptied; mode 0600; a symbolic
    /// link refused) and writes its header.
    pub fn new(config: &Config, stderr: Box<dyn Write + Send>) -> io::Result<Logger> {
        let file = match &config.file {
            Some(path) => {
                let exe = std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let header = format!(
                    "{} {}: {exe} ({})",
                    config.name,
                    env!("CARGO_PKG_VERSION"),
                    std::process::id()
                );
                Some(LogFile::create(path, config.size, header).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("Couldn't open log file {}: {e}", path.display()),
                    )
                })?)
            }
            None => None,
        };
        Ok(Logger {
            name: config.name,
            level: config.level,
            start: Instant::now(),
            pid: std::process::id(),
            stderr: Some(stderr),
            file,
            syslog: None,
            msg: String::with_capacity(MAX_LINE),
            line: String::with_capacity(MAX_LINE + 128),
        })
    }

    /// We went to the background: standard error is gone; without a log file, log to
    /// the system logger at `syslog_path` (nothing, if it can't be reached).
    pub fn daemonised(&mut self, syslog_path: &Path) {
        self.stderr = None;
        self.pid = std::process::id();
        if self.file.is_none() {
            self.syslog = UnixDatagram::unbound()
                .and_then(|s| s.connect(syslog_path).map(|()| s))
                .ok();
        }
    }

    /// Whether messages at `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    /// Write one message (one line: embedded newlines become spaces). Allocates
    /// nothing: the message and the line are built in buffers reserved at start.
    pub fn write(&mut self, level: Level, args: fmt::Arguments<'_>) {
        use std::fmt::Write as _;
        if !self.enabled(level) {
            return;
        }
        self.msg.clear();
        let _ = Bounded {
            out: &mut self.msg,
            limit: MAX_LINE,
        }
        .write_fmt(args);
        let msg = self.msg.trim_end();
        let us = self.start.elapsed().as_micros();
        let (secs, frac) = (us / 1_000_000, (us / 100) % 10_000);
        let mut stamp_buf = [0u8; 32];
        let stamp = {
            let mut c = io::Cursor::new(&mut stamp_buf[..]);
            let _ = write!(c, "{secs}.{frac:04}");
            let n = c.position() as usize;
            std::str::from_utf8(&stamp_buf[..n]).unwrap_or("")
        };
        if let Some(f) = &mut self.file {
            self.line.clear();
            let _ = writeln!(self.line, "{stamp}: {}{msg}", level.file_prefix());
            let _ = f.write_line(self.line.as_bytes(), stamp);
        }
        if let Some(s) = &self.syslog {
            self.line.clear();
            let _ = write!(
                self.line,
                "<{}>{}[{}]: {msg}",
                FACILITY_DAEMON | level.severity(),
                self.name,
                self.pid
            );
            let _ = s.send(self.line.as_bytes());
        }
        // With a log file, standard error still gets errors (a failed start must be
        // visible to whoever started us).
        let to_stderr = self.file.is_none() || level == Level::Error;
        if let (true, Some(e)) = (to_stderr, &mut self.stderr) {
            self.line.clear();
            if self.level >= Level::Debug {
                let _ = write!(self.line, "{stamp}: ");
            }
            let _ = writeln!(self.line, "{msg}");
            let _ = e.write_all(self.line.as_bytes());
        }
    }
}

/// Whether a log file is open (the seccomp filter must then allow
/// [`FILE_SYSCALLS`]).
pub fn has_file() -> bool {
    LOGGER
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|l| l.file.is_some())
}

/// The process's logger; `None` until [`init`]: then messages go to standard error.
static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);
/// The most verbose level enabled, for a lock-free check before formatting.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Set up logging for the process. Fails if the log file can't be created.
pub fn init(config: &Config) -> io::Result<()> {
    let logger = Logger::new(config, Box::new(io::stderr()))?;
    MAX_LEVEL.store(config.level as u8, Ordering::Relaxed);
    *LOGGER.lock().unwrap_or_else(|p| p.into_inner()) = Some(logger);
    Ok(())
}

/// Called in the daemon after the fork: stop writing to standard error (now
/// /dev/null) and, without a log file, log to syslog.
pub fn daemonised() {
    if let Some(l) = LOGGER.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        l.daemonised(Path::new(SYSLOG_PATH));
    }
}

/// Whether messages at `level` are written (cheap; the macros check it first).
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Write a message at `level` (use the macros).
pub fn write(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    match LOGGER.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        Some(l) => l.write(level, args),
        None => eprintln!("{args}"),
    }
}

/// One call site's rate limit: at most [`RATELIMIT_BURST`] messages per second.
#[derive(Debug, Default)]
pub struct RateLimit {
    state: Mutex<RateState>,
}

#[derive(Debug, Default)]
struct RateState {
    /// Second (since an arbitrary start) of the current window.
    window: u64,
    printed: u32,
    suppressed: u32,
}

/// What a rate-limited call site should write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    /// Nothing: over the limit (counted).
    Suppress,
    /// The message; then, if non-zero, how many were suppressed before it; and
    /// whether this was the last one allowed in this window.
    Write {
        /// Messages suppressed since the last one written.
        suppressed: u32,
        /// The burst is used up: say that further ones are suppressed.
        last: bool,
    },
}

impl RateLimit {
    /// A fresh limit (for a `static`).
    pub const fn new() -> RateLimit {
        RateLimit {
            state: Mutex::new(RateState {
                window: 0,
                printed: 0,
                suppressed: 0,
            }),
        }
    }

    /// Account for one message at `second` (monotonic whole seconds).
    pub fn check(&self, second: u64) -> RateVerdict {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if second != s.window {
            s.window = second;
            s.printed = 0;
        }
        if s.printed >= RATELIMIT_BURST {
            s.suppressed = s.suppressed.saturating_add(1);
            return RateVerdict::Suppress;
        }
        s.printed += 1;
        let suppressed = std::mem::take(&mut s.suppressed);
        RateVerdict::Write {
            suppressed,
            last: s.printed == RATELIMIT_BURST,
        }
    }
}

/// Monotonic whole seconds, for [`RateLimit::check`].
pub fn now_secs() -> u64 {
    rustix::time::clock_gettime(rustix::time::ClockId::Monotonic).tv_sec as u64
}

/// Write a rate-limited message (see [`RateLimit`]); used by [`log_ratelimit!`](crate::log_ratelimit).
pub fn write_limited(limit: &RateLimit, level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    if let RateVerdict::Write { suppressed, last } = limit.check(now_secs()) {
        write(level, args);
        if suppressed > 0 {
            write(
                level,
                format_args!("(suppressed {suppressed} similar messages)"),
            );
        }
        if last {
            write(
                level,
                format_args!("(suppressing further similar messages)"),
            );
        }
    }
}

/// Log at [`Level::Error`].
#[macro_export]
macro_rules! log_err {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}

/// Log at [`Level::Warning`].
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warning, format_args!($($arg)*)) };
}

/// Log at [`Level::Info`].
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// Log at [`Level::Debug`].
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($arg)*)) };
}

/// Log at [`Level::Trace`] (per-packet, per-flow).
#[macro_export]
macro_rules! log_trace {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Trace, format_args!($($arg)*)) };
}

/// Log at `level`, at most [`log::RATELIMIT_BURST`](crate::log::RATELIMIT_BURST) times a
/// second from this call site: `log_ratelimit!(Level::Warning, "bad frame: {}", why)`.
#[macro_export]
macro_rules! log_ratelimit {
    ($level:expr, $($arg:tt)*) => {{
        static LIMIT: $crate::log::RateLimit = $crate::log::RateLimit::new();
        $crate::log::write_limited(&LIMIT, $level, format_args!($($arg)*))
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A standard error stand-in the test can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("passt-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn config(level: Level, file: Option<std::path::PathBuf>, size: u64) -> Config {
        Config {
            name: "pasta",
            level,
            file,
            size,
        }
    }

    #[test]
    fn quiet_keeps_warnings_and_errors_only() {
        let err = Captured::default();
        let mut l = Logger::new(&config(Level::Warning, None, 0), Box::new(err.clone())).unwrap();
        l.write(Level::Info, format_args!("hidden info"));
        l.write(Level::Debug, format_args!("hidden debug"));
        l.write(Level::Warning, format_args!("a warning"));
        l.write(Level::Error, format_args!("an error"));
        assert_eq!(err.text(), "a warning\nan error\n");
    }

    #[test]
    fn debug_lines_on_stderr_carry_a_timestamp_and_stay_one_line() {
        let err = Captured::default();
        let mut l = Logger::new(&config(Level::Debug, None, 0), Box::new(err.clone())).unwrap();
        l.write(Level::Debug, format_args!("two\nlines"));
        l.write(Level::Trace, format_args!("hidden"));
        let text = err.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        let (stamp, msg) = text.trim_end().split_once(": ").unwrap();
        assert!(stamp.parse::<f64>().is_ok(), "{stamp}");
        assert_eq!(msg, "two lines");
    }

    #[test]
    fn log_file_has_header_prefixes_mode_0600_and_keeps_stderr_for_errors() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmp("file");
        let path = d.join("log");
        std::fs::write(&path, "old contents that must go\n").unwrap();
        let err = Captured::default();
        let mut l = Logger::new(
            &config(Level::Info, Some(path.clone()), 1 << 20),
            Box::new(err.clone()),
        )
        .unwrap();
        l.write(Level::Info, format_args!("hello"));
        l.write(Level::Warning, format_args!("careful"));
        l.write(Level::Error, format_args!("broken"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let header = format!("pasta {}: ", env!("CARGO_PKG_VERSION"));
        assert!(lines[0].starts_with(&header), "{}", lines[0]);
        assert!(
            lines[0].ends_with(&format!("({})", std::process::id())),
            "{}",
            lines[0]
        );
        assert!(lines[1].ends_with(": info:    hello"), "{}", lines[1]);
        assert!(lines[2].ends_with(": WARNING: careful"), "{}", lines[2]);
        assert!(lines[3].ends_with(": ERROR:   broken"), "{}", lines[3]);
        assert_eq!(lines.len(), 4);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(err.text(), "broken\n", "only errors also reach stderr");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn full_log_file_is_cut_by_about_30_percent_at_a_line_boundary() {
        let d = tmp("rotate");
        let path = d.join("log");
        let size = 40_960;
        let mut l = Logger::new(
            &config(Level::Info, Some(path.clone()), size),
            Box::new(io::sink()),
        )
        .unwrap();
        let mut max_seen = 0u64;
        let mut rotations = 0;
        let mut last_len = 0;
        for i in 0..3000 {
            l.write(Level::Info, format_args!("line {i:05} {}", "x".repeat(40)));
            let len = std::fs::metadata(&path).unwrap().len();
            max_seen = max_seen.max(len);
            if len < last_len {
                rotations += 1;
                // About 30 % went (12 KiB, less the longer header, plus a line).
                let cut = last_len - len;
                assert!(
                    (size / 4..size * 35 / 100).contains(&cut),
                    "cut {cut} bytes"
                );
            }
            last_len = len;
        }
        assert!(max_seen <= size, "file grew to {max_seen}");
        assert!(rotations >= 3, "{rotations} rotations");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("pasta "), "{header}");
        assert!(header.contains(" - log truncated at "), "{header}");
        // Every other line is whole, in order, ending with the newest.
        let numbers: Vec<u32> = lines
            .map(|l| {
                let rest = l.split_once("info:    line ").expect(l).1;
                assert_eq!(rest.len(), 5 + 1 + 40, "partial line {l:?}");
                rest[..5].parse().unwrap()
            })
            .collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(*numbers.last().unwrap(), 2999);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn daemonised_without_a_file_logs_to_syslog() {
        let d = tmp("syslog");
        let sock_path = d.join("log.sock");
        let server = UnixDatagram::bind(&sock_path).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let err = Captured::default();
        let mut l = Logger::new(&config(Level::Info, None, 0), Box::new(err.clone())).unwrap();
        l.daemonised(&sock_path);
        l.write(Level::Warning, format_args!("to syslog"));
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(got, format!("<28>pasta[{}]: to syslog", std::process::id()));
        assert_eq!(err.text(), "", "nothing on stderr once daemonised");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn rate_limit_allows_a_burst_per_second_then_counts() {
        let r = RateLimit::new();
        let mut verdicts = Vec::new();
        for _ in 0..8 {
            verdicts.push(r.check(100));
        }
        assert_eq!(
            verdicts[..5],
            [
                RateVerdict::Write {
                    suppressed: 0,
                    last: false
                },
                RateVerdict::Write {
                    suppressed: 0,
                    last: false
                },
                RateVerdict::Write {
                    suppressed: 0,
                    last: false
                },
                RateVerdict::Write {
                    suppressed: 0,
                    last: false
                },
                RateVerdict::Write {
                    suppressed: 0,
                    last: true
                },
            ]
        );
        assert!(verdicts[5..].iter().all(|v| *v == RateVerdict::Suppress));
        assert_eq!(
            r.check(101),
            RateVerdict::Write {
                suppressed: 3,
                last: false
            }
        );
    }
}
