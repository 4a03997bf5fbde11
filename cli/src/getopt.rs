//! A `getopt_long`-compatible tokenizer, in the `+` (POSIX, stop at the first
//! non-option) flavour passt and pasta use.
//!
//! Why not clap: callers depend on details of GNU `getopt_long` that clap does
//! differently or not at all (see callers.md §1 and passt-reference §1.1):
//! - parsing stops at the first non-option, yet `--` still ends options
//!   (`pasta -t 80 sh -c ls` must hand `-c` to `sh`, not to pasta);
//! - a required argument is the next word *whatever it looks like* (`--netns -x`,
//!   `-t -1` are an option with a value, not two options);
//! - unambiguous prefixes of long options are accepted (`--netm 24`);
//! - short options cluster, and a cluster's option with an argument swallows the rest
//!   of the word (`-46`, `-qt80`);
//! - error texts are grepped by callers: podman retries on
//!   `unrecognized option '--map-guest-addr`, so the wording below follows glibc's.
//!
//! The tokenizer only splits words into options and values; what an option means is
//! [`crate::options`]'s business. It is lazy, so an option that ends parsing early
//! (`--version`) is seen before any later syntax error, as with `getopt_long`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HasArg {
    /// A flag (`--quiet`, `-q`).
    No,
    /// Takes one argument: `--opt=V`, `--opt V`, `-oV` or `-o V`.
    Required,
}

/// One entry of an option table.
#[derive(Debug, Clone, Copy)]
pub struct OptDef<K: 'static> {
    /// Long names without the leading `--`; the first is canonical, the others aliases.
    pub longs: &'static [&'static str],
    /// Short name, if any.
    pub short: Option<char>,
    /// Whether it takes an argument.
    pub arg: HasArg,
    /// What the caller calls it.
    pub key: K,
}

impl<K> OptDef<K> {
    /// The name errors use: `-x` when there is a short form, else `--long`.
    pub fn display_name(&self) -> String {
        match (self.short, self.longs.first()) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => String::from("?"),
        }
    }
}

/// An option as the tokenizer found it.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a, K: 'static> {
    /// The table entry.
    pub def: &'static OptDef<K>,
    /// Its argument, for [`HasArg::Required`] options.
    pub value: Option<&'a OsStr>,
}

/// A syntax error, worded like glibc's `getopt_long` (without the `prog: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetoptError {
    /// `--name` matches no long option (the word is kept whole, `=value` included).
    Unrecognized(String),
    /// A short option letter not in the table.
    InvalidShort(char),
    /// `--pre` is a prefix of several different options.
    Ambiguous {
        /// The word as given.
        given: String,
        /// The canonical long names it could mean.
        candidates: Vec<&'static str>,
    },
    /// `--flag=value` for an option without argument (canonical long name).
    ArgumentNotAllowed(&'static str),
    /// A long option (canonical name) at the end of the words, without its argument.
    LongArgumentMissing(&'static str),
    /// A short option at the end of the words, without its argument.
    ShortArgumentMissing(char),
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetoptError::Unrecognized(word) => write!(f, "unrecognized option '{word}'"),
            GetoptError::InvalidShort(c) => write!(f, "invalid option -- '{c}'"),
            GetoptError::Ambiguous { given, candidates } => {
                write!(f, "option '{given}' is ambiguous; possibilities:")?;
                for c in candidates {
                    write!(f, " '--{c}'")?;
                }
                Ok(())
            }
            GetoptError::ArgumentNotAllowed(name) => {
                write!(f, "option '--{name}' doesn't allow an argument")
            }
            GetoptError::LongArgumentMissing(name) => {
                write!(f, "option '--{name}' requires an argument")
            }
            GetoptError::ShortArgumentMissing(c) => {
                write!(f, "option requires an argument -- '{c}'")
            }
        }
    }
}

impl std::error::Error for GetoptError {}

/// Splits words (without `argv[0]`) into options; see the module documentation.
///
/// Iterate to get the options; when the iterator ends, [`Getopt::rest`] holds the
/// operands (everything from the first non-option, or after `--`).
#[derive(Debug)]
pub struct Getopt<'a, K: 'static> {
    table: &'static [OptDef<K>],
    words: &'a [OsString],
    /// Index of the next word to look at.
    next: usize,
    /// Inside a short-option cluster: (word index, byte offset of the next letter).
    cluster: Option<(usize, usize)>,
    /// Set once options have ended (operand, `--`, end of words or an error).
    done: bool,
}

impl<'a, K: Copy + PartialEq> Getopt<'a, K> {
    /// A tokenizer over `words` with the option `table`.
    pub fn new(table: &'static [OptDef<K>], words: &'a [OsString]) -> Self {
        Getopt {
            table,
            words,
            next: 0,
            cluster: None,
            done: false,
        }
    }

    /// The operands: the words left once options ended. Only meaningful after the
    /// iterator returned `None`.
    pub fn rest(&self) -> &'a [OsString] {
        self.words.get(self.next..).unwrap_or(&[])
    }

    /// The word after the current one, consumed as an argument.
    fn take_next_word(&mut self) -> Option<&'a OsStr> {
        let w = self.words.get(self.next)?;
        self.next += 1;
        Some(w.as_os_str())
    }

    /// Continue a short-option cluster: `word[at..]` starts with an option letter.
    fn short(&mut self, idx: usize, at: usize) -> Result<Found<'a, K>, GetoptError> {
        let bytes = self.words.get(idx).map_or(&[][..], |w| w.as_bytes());
        let tail = bytes.get(at..).unwrap_or(&[]);
        let letter = String::from_utf8_lossy(tail).chars().next().unwrap_or('?');
        let after = at.saturating_add(letter.len_utf8().max(1));
        let def = self
            .table
            .iter()
            .find(|d| d.short == Some(letter))
            .ok_or(GetoptError::InvalidShort(letter))?;
        let rest = bytes.get(after..).unwrap_or(&[]);
        match def.arg {
            HasArg::No => {
                if !rest.is_empty() {
                    self.cluster = Some((idx, after));
                }
                Ok(Found { def, value: None })
            }
            HasArg::Required if !rest.is_empty() => Ok(Found {
                def,
                value: Some(OsStr::from_bytes(rest)),
            }),
            HasArg::Required => match self.take_next_word() {
                Some(v) => Ok(Found {
                    def,
                    value: Some(v),
                }),
                None => Err(GetoptError::ShortArgumentMissing(letter)),
            },
        }
    }

    /// A `--name[=value]` word (`body` is what follows `--`).
    fn long(&mut self, body: &'a [u8]) -> Result<Found<'a, K>, GetoptError> {
        let (name, inline) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(OsStr::from_bytes(&body[eq + 1..]))),
            None => (body, None),
        };
        let whole = || format!("--{}", String::from_utf8_lossy(body));
        let def = self.lookup(name).map_err(|candidates| match candidates {
            Some(candidates) => GetoptError::Ambiguous {
                given: whole(),
                candidates,
            },
            None => GetoptError::Unrecognized(whole()),
        })?;
        let canonical = def.longs.first().copied().unwrap_or("");
        match (def.arg, inline) {
            (HasArg::No, None) => Ok(Found { def, value: None }),
            (HasArg::No, Some(_)) => Err(GetoptError::ArgumentNotAllowed(canonical)),
            (HasArg::Required, Some(v)) => Ok(Found {
                def,
                value: Some(v),
            }),
            (HasArg::Required, None) => match self.take_next_word() {
                Some(v) => Ok(Found {
                    def,
                    value: Some(v),
                }),
                None => Err(GetoptError::LongArgumentMissing(canonical)),
            },
        }
    }

    /// Find a long option by exact name, else by unique prefix. `Err(None)`: no match;
    /// `Err(Some(names))`: prefix of several different options.
    fn lookup(&self, name: &[u8]) -> Result<&'static OptDef<K>, Option<Vec<&'static str>>> {
        if name.is_empty() {
            return Err(None);
        }
        let table: &'static [OptDef<K>] = self.table;
        if let Some(d) = table
            .iter()
            .find(|d| d.longs.iter().any(|l| l.as_bytes() == name))
        {
            return Ok(d);
        }
        let matches: Vec<&'static OptDef<K>> = table
            .iter()
            .filter(|d| d.longs.iter().any(|l| l.as_bytes().starts_with(name)))
            .collect();
        match matches.as_slice() {
            [] => Err(None),
            [one, rest @ ..] if rest.iter().all(|d| d.key == one.key) => Ok(one),
            many => Err(Some(
                many.iter()
                    .filter_map(|d| d.longs.iter().find(|l| l.as_bytes().starts_with(name)))
                    .copied()
                    .collect(),
            )),
        }
    }
}

impl<'a, K: Copy + PartialEq> Iterator for Getopt<'a, K> {
    type Item = Result<Found<'a, K>, GetoptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = if let Some((idx, at)) = self.cluster.take() {
            self.short(idx, at)
        } else {
            let words = self.words;
            let word = words.get(self.next)?.as_bytes();
            if word.first() != Some(&b'-') || word == b"-" {
                // An operand ("-" alone is one too): options end, the word stays.
                self.done = true;
                return None;
            }
            self.next += 1;
            if word == b"--" {
                self.done = true;
                return None;
            }
            match word.strip_prefix(b"--") {
                Some(body) => self.long(body),
                None => self.short(self.next - 1, 1),
            }
        };
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum K {
        Quiet,
        Four,
        Six,
        Tcp,
        Netns,
        NetnsOnly,
        Socket,
        DhcpDns,
        NoDhcp,
        NoDhcpDns,
        NoDhcpSearch,
    }

    static TABLE: &[OptDef<K>] = &[
        OptDef {
            longs: &["quiet"],
            short: Some('q'),
            arg: HasArg::No,
            key: K::Quiet,
        },
        OptDef {
            longs: &["ipv4-only"],
            short: Some('4'),
            arg: HasArg::No,
            key: K::Four,
        },
        OptDef {
            longs: &["ipv6-only"],
            short: Some('6'),
            arg: HasArg::No,
            key: K::Six,
        },
        OptDef {
            longs: &["tcp-ports"],
            short: Some('t'),
            arg: HasArg::Required,
            key: K::Tcp,
        },
        OptDef {
            longs: &["netns"],
            short: None,
            arg: HasArg::Required,
            key: K::Netns,
        },
        OptDef {
            longs: &["netns-only"],
            short: None,
            arg: HasArg::No,
            key: K::NetnsOnly,
        },
        OptDef {
            longs: &["socket", "socket-path"],
            short: Some('s'),
            arg: HasArg::Required,
            key: K::Socket,
        },
        OptDef {
            longs: &["dhcp-dns"],
            short: None,
            arg: HasArg::No,
            key: K::DhcpDns,
        },
        OptDef {
            longs: &["no-dhcp"],
            short: None,
            arg: HasArg::No,
            key: K::NoDhcp,
        },
        OptDef {
            longs: &["no-dhcp-dns"],
            short: None,
            arg: HasArg::No,
            key: K::NoDhcpDns,
        },
        OptDef {
            longs: &["no-dhcp-search"],
            short: None,
            arg: HasArg::No,
            key: K::NoDhcpSearch,
        },
    ];

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    /// (key, value) pairs, then the operands; panics on a syntax error.
    fn run(w: &[&str]) -> (Vec<(K, Option<String>)>, Vec<String>) {
        let w = words(w);
        let mut g = Getopt::new(TABLE, &w);
        let opts = g
            .by_ref()
            .map(|r| {
                let f = r.unwrap();
                (f.def.key, f.value.map(|v| v.to_string_lossy().into_owned()))
            })
            .collect();
        let rest = g
            .rest()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        (opts, rest)
    }

    fn err(w: &[&str]) -> String {
        let w = words(w);
        Getopt::new(TABLE, &w)
            .find_map(|r| r.err())
            .expect("an error")
            .to_string()
    }

    fn v(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn argument_forms() {
        let (o, rest) = run(&["--tcp-ports=80", "--tcp-ports", "81", "-t82", "-t", "83"]);
        assert_eq!(
            o,
            [
                (K::Tcp, v("80")),
                (K::Tcp, v("81")),
                (K::Tcp, v("82")),
                (K::Tcp, v("83"))
            ]
        );
        assert!(rest.is_empty());
    }

    #[test]
    fn required_argument_takes_the_next_word_whatever_it_is() {
        let (o, _) = run(&["-t", "-1", "--netns", "--quiet", "-s", "--"]);
        assert_eq!(
            o,
            [
                (K::Tcp, v("-1")),
                (K::Netns, v("--quiet")),
                (K::Socket, v("--"))
            ]
        );
        // An empty inline value is still a value.
        assert_eq!(run(&["--netns="]).0, [(K::Netns, v(""))]);
    }

    #[test]
    fn clusters() {
        let (o, _) = run(&["-46q", "-qt80", "-q6t", "90"]);
        assert_eq!(
            o,
            [
                (K::Four, None),
                (K::Six, None),
                (K::Quiet, None),
                (K::Quiet, None),
                (K::Tcp, v("80")),
                (K::Quiet, None),
                (K::Six, None),
                (K::Tcp, v("90"))
            ]
        );
    }

    #[test]
    fn stops_at_first_operand_and_after_double_dash() {
        let (o, rest) = run(&["-t", "80", "sh", "-c", "ls"]);
        assert_eq!(o, [(K::Tcp, v("80"))]);
        assert_eq!(rest, ["sh", "-c", "ls"]);
        let (o, rest) = run(&["-q", "--", "-q", "x"]);
        assert_eq!(o, [(K::Quiet, None)]);
        assert_eq!(rest, ["-q", "x"]);
        let (_, rest) = run(&["-", "-q"]);
        assert_eq!(rest, ["-", "-q"]);
        let (_, rest) = run(&["-q", "--", "--"]);
        assert_eq!(rest, ["--"]);
    }

    #[test]
    fn prefixes() {
        // Unique prefix.
        assert_eq!(run(&["--qui"]).0, [(K::Quiet, None)]);
        // An exact name wins over longer names it prefixes.
        assert_eq!(run(&["--netns", "x"]).0, [(K::Netns, v("x"))]);
        assert_eq!(run(&["--no-dhcp"]).0, [(K::NoDhcp, None)]);
        // Prefix of two aliases of one option is not ambiguous.
        assert_eq!(run(&["--sock=/s"]).0, [(K::Socket, v("/s"))]);
        assert_eq!(run(&["--socket-p", "/s"]).0, [(K::Socket, v("/s"))]);
        assert_eq!(run(&["--netns-"]).0, [(K::NetnsOnly, None)]);
        assert_eq!(run(&["--no-dhcp-d"]).0, [(K::NoDhcpDns, None)]);
    }

    #[test]
    fn errors_read_like_glibc() {
        assert_eq!(
            err(&["--map-guest-adr", "x"]),
            "unrecognized option '--map-guest-adr'"
        );
        assert_eq!(err(&["--bogus=1"]), "unrecognized option '--bogus=1'");
        assert_eq!(err(&["-x"]), "invalid option -- 'x'");
        assert_eq!(err(&["-qx"]), "invalid option -- 'x'");
        assert_eq!(err(&["-t"]), "option requires an argument -- 't'");
        assert_eq!(err(&["--tcp"]), "option '--tcp-ports' requires an argument");
        assert_eq!(
            err(&["--quiet=yes"]),
            "option '--quiet' doesn't allow an argument"
        );
        assert_eq!(
            err(&["--ipv"]),
            "option '--ipv' is ambiguous; possibilities: '--ipv4-only' '--ipv6-only'"
        );
        assert_eq!(
            err(&["--no-dhcp-"]),
            "option '--no-dhcp-' is ambiguous; possibilities: '--no-dhcp-dns' '--no-dhcp-search'"
        );
    }

    #[test]
    fn nothing_after_an_error() {
        let w = words(&["-x", "-q"]);
        let mut g = Getopt::new(TABLE, &w);
        assert!(g.next().unwrap().is_err());
        assert!(g.next().is_none());
    }

    #[test]
    fn non_utf8_words() {
        use std::os::unix::ffi::OsStringExt;
        let w = vec![
            OsString::from("-t"),
            OsString::from_vec(vec![0xff, b'8']),
            OsString::from_vec(vec![b'-', 0xff]),
        ];
        let mut g = Getopt::new(TABLE, &w);
        let f = g.next().unwrap().unwrap();
        assert_eq!(f.value.unwrap().as_bytes(), [0xff, b'8']);
        assert_eq!(
            g.next().unwrap().unwrap_err(),
            GetoptError::InvalidShort('\u{fffd}')
        );
    }
}
