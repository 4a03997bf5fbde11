//! `pesto`: change a running pasta's forwards through its control socket (`-c PATH`),
//! with the command line podman uses (`pesto --add -t HOST/P:TARGET/Q … SOCKET`).
//!
//! The wire protocol is ours (`passt_shim_linux::control`, `doc/control-socket.md`),
//! not upstream pesto's: upstream's rule layout could not be confirmed, and ours
//! reports a failed bind back to the caller. The options follow upstream pesto:
//! `-A/--add` and `-D/--delete` set the mode for the port options after them;
//! before either, the first `-t` (`-T`, `-u`, `-U`) replaces that whole table;
//! `-C/--clear HOST|SPLICE` empties the `-t` and `-u` or the `-T` and `-U` tables; `-s/--show` prints the tables before
//! and after; with no change, the tables are printed.

use crate::getopt::{Getopt, HasArg, OptDef};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// pesto's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `-A`, `--add`
    Add,
    /// `-D`, `--delete`
    Delete,
    /// `-C`, `--clear`
    Clear,
    /// `-t`, `--tcp-ports`
    Tcp,
    /// `-u`, `--udp-ports`
    Udp,
    /// `-T`, `--tcp-ns`
    TcpNs,
    /// `-U`, `--udp-ns`
    UdpNs,
    /// `-s`, `--show`
    Show,
    /// `-d`, `--debug`
    Debug,
    /// `-h`, `--help`
    Help,
    /// `--version`
    Version,
}

const fn opt(longs: &'static [&'static str], short: char, arg: HasArg, key: Key) -> OptDef<Key> {
    OptDef {
        longs,
        short: Some(short),
        arg,
        key,
    }
}

/// pesto's option table.
pub static OPTIONS: &[OptDef<Key>] = &[
    opt(&["add"], 'A', HasArg::No, Key::Add),
    opt(&["delete"], 'D', HasArg::No, Key::Delete),
    opt(&["clear"], 'C', HasArg::Required, Key::Clear),
    opt(&["tcp-ports"], 't', HasArg::Required, Key::Tcp),
    opt(&["tcp-ns"], 'T', HasArg::Required, Key::TcpNs),
    opt(&["udp-ports"], 'u', HasArg::Required, Key::Udp),
    opt(&["udp-ns"], 'U', HasArg::Required, Key::UdpNs),
    opt(&["show"], 's', HasArg::No, Key::Show),
    opt(&["debug"], 'd', HasArg::No, Key::Debug),
    opt(&["help"], 'h', HasArg::No, Key::Help),
    OptDef {
        longs: &["version"],
        short: None,
        arg: HasArg::No,
        key: Key::Version,
    },
];

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print usage, exit 0.
    Help,
    /// Print the version, exit 0.
    Version,
    /// Talk to the server.
    Run {
        /// The control socket.
        socket: OsString,
        /// Request lines, in order.
        requests: Vec<String>,
        /// `-s`, or no change asked for: print the tables.
        show: bool,
        /// `-d`.
        debug: bool,
    },
}

/// What pesto does, in a line (`--help` and the manual page's NAME).
pub const SUMMARY: &str = "Change the port forwards of a pasta started with -c PATH.";

/// How the port options combine (`--help`'s last line).
pub const REPLACE_RULE: &str =
    "Without -A or -D, the first -t (-T, -u, -U) replaces that table's forwards.";

/// Each option's argument name (empty without one) and what it does: the one source
/// of `--help` ([`usage`]) and of `pesto(1)` (`crate::man::pesto_page`).
pub fn describe(key: Key) -> (&'static str, &'static str) {
    match key {
        Key::Add => ("", "Add the forwards given after this option"),
        Key::Delete => ("", "Delete the forwards given after this option"),
        Key::Clear => (
            "PIF",
            "Remove every forward of HOST (-t, -u) or SPLICE (-T, -U)",
        ),
        Key::Tcp => (
            "SPEC",
            "TCP forward from the host: [ADDR/]PORTS[:PORTS], or HOST/PORTS:TARGET/PORTS to \
             reach TARGET in the namespace",
        ),
        Key::TcpNs => (
            "SPEC",
            "TCP forward from the namespace's loopback to the host's",
        ),
        Key::Udp => (
            "SPEC",
            "UDP forward from the host, as -t (deleting one closes the flows it carries)",
        ),
        Key::UdpNs => (
            "SPEC",
            "UDP forward from the namespace's loopback to the host's",
        ),
        Key::Show => ("", "Show the forwards before and after the change"),
        Key::Debug => ("", "Print the protocol exchange on stderr"),
        Key::Help => ("", "Display this help message and exit"),
        Key::Version => ("", "Show version and exit"),
    }
}

/// Column where `--help` starts the descriptions, and the width it wraps them to.
const HELP_COLUMN: usize = 24;
const HELP_WIDTH: usize = 80;

/// The `--help` text: every option of [`OPTIONS`] with its [`describe`] text.
pub fn usage() -> String {
    let mut out = format!("Usage: pesto [OPTION]... PATH\n{SUMMARY}\n\n");
    for def in OPTIONS {
        let (meta, text) = describe(def.key);
        let head = format!("  {}", crate::help::option_names(def, meta));
        let mut line = format!("{head:<HELP_COLUMN$}");
        for word in text.split(' ') {
            if line.len() > HELP_COLUMN && line.len() + 1 + word.len() > HELP_WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = " ".repeat(HELP_COLUMN);
            } else if line.len() > HELP_COLUMN {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(REPLACE_RULE);
    out.push('\n');
    out
}

/// Parse pesto's words (after `argv[0]`).
pub fn parse(words: &[OsString]) -> Result<Command, String> {
    #[derive(PartialEq)]
    enum Mode {
        Replace,
        Add,
        Delete,
    }
    let mut mode = Mode::Replace;
    let mut replaced = [false; 4];
    let mut requests = Vec::new();
    let (mut show, mut debug) = (false, false);
    let mut getopt = Getopt::new(OPTIONS, words);
    for found in getopt.by_ref() {
        let found = found.map_err(|e| e.to_string())?;
        let value = found.value.map(|v| v.to_string_lossy().into_owned());
        let letter = match found.def.key {
            Key::Help => return Ok(Command::Help),
            Key::Version => return Ok(Command::Version),
            Key::Add => {
                mode = Mode::Add;
                continue;
            }
            Key::Delete => {
                mode = Mode::Delete;
                continue;
            }
            Key::Show => {
                show = true;
                continue;
            }
            Key::Debug => {
                debug = true;
                continue;
            }
            Key::Clear => {
                let letters = match value.as_deref() {
                    Some("HOST") => ['t', 'u'],
                    Some("SPLICE") => ['T', 'U'],
                    other => {
                        return Err(format!(
                            "Unsupported pif name {} (HOST or SPLICE)",
                            other.unwrap_or_default()
                        ))
                    }
                };
                for letter in letters {
                    requests.push(format!("clear {letter}"));
                }
                continue;
            }
            Key::Tcp => 't',
            Key::Udp => 'u',
            Key::TcpNs => 'T',
            Key::UdpNs => 'U',
        };
        let spec = value.unwrap_or_default();
        if spec.is_empty() || spec.contains(char::is_whitespace) {
            return Err(format!("Invalid port specifier '{spec}'"));
        }
        let verb = match mode {
            Mode::Delete => "delete",
            Mode::Add => "add",
            Mode::Replace => {
                let i = "tuTU".find(letter).unwrap_or(0);
                if !replaced[i] {
                    replaced[i] = true;
                    requests.push(format!("clear {letter}"));
                }
                "add"
            }
        };
        requests.push(format!("{verb} {letter} {spec}"));
    }
    let socket = match getopt.rest() {
        [one] => one.clone(),
        [] => return Err("missing control socket path".into()),
        [_, extra, ..] => return Err(format!("unexpected argument '{}'", extra.to_string_lossy())),
    };
    Ok(Command::Run {
        show: show || requests.is_empty(),
        socket,
        requests,
        debug,
    })
}

/// How long to keep retrying while another client holds the server (longer than the
/// server gives one client, `passt_shim_linux::control::CLIENT_TIMEOUT`).
const BUSY_RETRY: Duration = Duration::from_secs(6);
/// How long to wait for any one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Run pesto with `words` (after `argv[0]`); returns the exit status.
pub fn main(words: &[OsString]) -> i32 {
    let cmd = match parse(words) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pesto: {e}");
            eprint!("{}", usage());
            return 1;
        }
    };
    match cmd {
        Command::Help => {
            print!("{}", usage());
            0
        }
        Command::Version => {
            println!("pesto {} (passt-rs)", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Run {
            socket,
            requests,
            show,
            debug,
        } => match run(&socket, &requests, show, debug) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("pesto: {e}");
                1
            }
        },
    }
}

/// A connection to the server, past its greeting.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    debug: bool,
}

impl Conn {
    fn open(path: &OsString, debug: bool) -> Result<Conn, String> {
        let started = Instant::now();
        loop {
            let stream = UnixStream::connect(path)
                .map_err(|e| format!("Failed to connect to {}: {e}", path.to_string_lossy()))?;
            stream
                .set_read_timeout(Some(REPLY_TIMEOUT))
                .map_err(|e| e.to_string())?;
            let writer = stream.try_clone().map_err(|e| e.to_string())?;
            let mut conn = Conn {
                reader: BufReader::new(stream),
                writer,
                debug,
            };
            let hello = conn.line()?;
            if hello == passt_shim_linux::control::HELLO {
                return Ok(conn);
            }
            if hello.starts_with("error busy") && started.elapsed() < BUSY_RETRY {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            if hello.starts_with("basil") {
                return Err("this is upstream pasta's control socket: use upstream pesto".into());
            }
            return Err(match hello.strip_prefix("error ") {
                Some(e) => e.to_string(),
                None => format!("unexpected greeting from the server: {hello:?}"),
            });
        }
    }

    fn line(&mut self) -> Result<String, String> {
        let mut raw = Vec::new();
        match self.reader.read_until(b'\n', &mut raw) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("Error reading from control socket: {e}")),
        }
        let text = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        if self.debug {
            eprintln!("< {text}");
        }
        Ok(text)
    }

    /// Send one request; print what comes before its `ok`/`error` line when `print`.
    fn request(&mut self, req: &str, print: bool) -> Result<(), String> {
        if self.debug {
            eprintln!("> {req}");
        }
        self.writer
            .write_all(format!("{req}\n").as_bytes())
            .map_err(|e| format!("Error writing to control socket: {e}"))?;
        loop {
            let line = self.line()?;
            if line == "ok" || line.starts_with("ok ") {
                return Ok(());
            }
            if let Some(e) = line.strip_prefix("error ") {
                return Err(e.to_string());
            }
            if print {
                println!("    {line}");
            }
        }
    }
}

fn run(socket: &OsString, requests: &[String], show: bool, debug: bool) -> Result<(), String> {
    let mut conn = Conn::open(socket, debug)?;
    let name = socket.to_string_lossy();
    if show {
        if requests.is_empty() {
            println!("pasta configuration ({name})");
        } else {
            println!("Previous configuration ({name})");
        }
        conn.request("show", true)?;
    }
    for req in requests {
        conn.request(req, false)?;
    }
    if show && !requests.is_empty() {
        println!("Updated configuration ({name})");
        conn.request("show", true)?;
    }
    let _ = conn.writer.shutdown(std::net::Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn help_lists_every_option_within_80_columns() {
        let text = usage();
        assert!(text.lines().all(|l| l.len() <= HELP_WIDTH), "{text}");
        for def in OPTIONS {
            let long = format!("--{}", def.longs[0]);
            let line = text
                .lines()
                .find(|l| {
                    l.split_whitespace()
                        .any(|w| w.trim_end_matches(',') == long)
                })
                .unwrap_or_else(|| panic!("{long} missing from:\n{text}"));
            let first_word = describe(def.key).1.split(' ').next().unwrap();
            assert_eq!(
                &line[HELP_COLUMN..][..first_word.len()],
                first_word,
                "{line}"
            );
        }
        // A description too long for one line goes on under its column.
        let tcp = text
            .lines()
            .position(|l| l.contains("--tcp-ports"))
            .unwrap();
        let next = text.lines().nth(tcp + 1).unwrap();
        assert!(next.starts_with(&" ".repeat(HELP_COLUMN)) && next.len() > HELP_COLUMN);
    }

    fn requests(s: &[&str]) -> Vec<String> {
        match parse(&words(s)).unwrap() {
            Command::Run { requests, .. } => requests,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn podmans_add_and_delete_become_one_request_per_spec() {
        assert_eq!(
            requests(&[
                "--add",
                "-t",
                "0.0.0.0/8080:10.88.0.5/80",
                "-t",
                "[::]/8080:fd00::5/80",
                "/run/sock"
            ]),
            vec![
                "add t 0.0.0.0/8080:10.88.0.5/80",
                "add t [::]/8080:fd00::5/80"
            ]
        );
        assert_eq!(
            requests(&["--delete", "-u", "0.0.0.0/53:10.88.0.5/53", "s"]),
            vec!["delete u 0.0.0.0/53:10.88.0.5/53"]
        );
    }

    #[test]
    fn without_a_mode_the_first_spec_replaces_that_table() {
        assert_eq!(
            requests(&["-t", "80", "-t", "81", "-T", "90", "-A", "-t", "82", "s"]),
            vec!["clear t", "add t 80", "add t 81", "clear T", "add T 90", "add t 82"]
        );
        assert_eq!(requests(&["-C", "SPLICE", "s"]), vec!["clear T", "clear U"]);
        assert_eq!(
            requests(&["-u", "53", "-C", "HOST", "s"]),
            vec!["clear u", "add u 53", "clear t", "clear u"]
        );
    }

    #[test]
    fn bad_command_lines_are_refused() {
        assert!(parse(&words(&["-t", "80"])).is_err(), "no socket");
        assert!(parse(&words(&["-t", "80", "a", "b"])).is_err());
        assert!(parse(&words(&["-C", "TAP", "s"])).is_err());
        assert!(parse(&words(&["-t", "8 0", "s"])).is_err());
        assert_eq!(parse(&words(&["--version"])), Ok(Command::Version));
        match parse(&words(&["s"])).unwrap() {
            Command::Run { show, requests, .. } => assert!(show && requests.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
