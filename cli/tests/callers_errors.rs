//! The errors callers rely on: wrong program, bad input naming the option, the order
//! of the three parsing passes, one-line messages, and no panic on any argv.

mod argv;

use argv::*;
use passt_cli::{parse, Action, CliError};
use passt_core::Mode;

#[test]
fn wrong_program() {
    assert_eq!(
        err(Mode::Passt, &["--netns", "x"]),
        "option '--netns' is for pasta only"
    );
    assert_eq!(
        err(Mode::Passt, &["-I", "tap0"]),
        "option '--ns-ifname' is for pasta only"
    );
    assert_eq!(
        err(Mode::Passt, &["-T", "80"]),
        "option '--tcp-ns' is for pasta only"
    );
    assert_eq!(
        err(Mode::Pasta, &["-s", "/tmp/s"]),
        "option '--socket' is for passt only"
    );
    assert_eq!(
        err(Mode::Pasta, &["-1"]),
        "option '--one-off' is for passt only"
    );
    assert_eq!(
        err(Mode::Pasta, &["--print-capabilities"]),
        "option '--print-capabilities' is for passt only"
    );
    assert_eq!(
        err(Mode::Passt, &["sh"]),
        "unexpected non-option argument 'sh'"
    );
}

#[test]
fn bad_input_errors_name_the_option() {
    let cases: &[(Mode, &[&str], &str)] = &[
        (
            Mode::Pasta,
            &["-t", "70000"],
            "Invalid port specifier 70000 for option '-t': port is not a number from 0 to 65535",
        ),
        (
            Mode::Pasta,
            &["--tcp-ports=70000"],
            "Invalid port specifier 70000 for option '-t': port is not a number from 0 to 65535",
        ),
        (
            Mode::Pasta,
            &["-u", "1-2:3-5"],
            "Invalid port specifier 1-2:3-5 for option '-u': mapped range differs in length from the original",
        ),
        (
            Mode::Pasta,
            &["-t", "~20-30,~25-40"],
            "Invalid port specifier ~20-30,~25-40 for option '-t': overlapping excluded ranges",
        ),
        (
            Mode::Pasta,
            &["--map-guest-adr", "169.254.1.2"],
            "unrecognized option '--map-guest-adr'",
        ),
        (Mode::Pasta, &["-x"], "invalid option -- 'x'"),
        (Mode::Pasta, &["-t"], "option requires an argument -- 't'"),
        (Mode::Pasta, &["--netns"], "option '--netns' requires an argument"),
        (Mode::Pasta, &["--quiet=1"], "option '--quiet' doesn't allow an argument"),
        (
            Mode::Pasta,
            &["-a", "300.1.1.1"],
            "Invalid address 300.1.1.1 for option '-a': not an IPv4 or IPv6 address",
        ),
        (
            Mode::Pasta,
            &["-a", "127.0.0.1"],
            "Invalid address 127.0.0.1 for option '-a': loopback address",
        ),
        (
            Mode::Pasta,
            &["-g", "ff02::1"],
            "Invalid address ff02::1 for option '-g': multicast address",
        ),
        (
            Mode::Pasta,
            &["--dns-forward", "nope"],
            "Invalid address nope for option '--dns-forward': not an IPv4 or IPv6 address",
        ),
        (
            Mode::Pasta,
            &["-m", "50"],
            "Invalid MTU 50 for option '-m': must be 0 (don't advertise) or 68 to 65535",
        ),
        (
            Mode::Pasta,
            &["-n", "33"],
            "Invalid netmask 33 for option '-n': must be a dotted netmask or a prefix length from 0 to 32",
        ),
        (
            Mode::Pasta,
            &["--ns-mac-addr", "01:00:5e:00:00:01"],
            "Invalid MAC address 01:00:5e:00:00:01 for option '--ns-mac-addr': must be a unicast address",
        ),
        (
            Mode::Pasta,
            &["-I", "averyveryverylongname"],
            "Invalid interface averyveryverylongname for option '-I': not a valid interface name (1 to 15 characters)",
        ),
        (
            Mode::Passt,
            &["-F", "1"],
            "Invalid file descriptor 1 for option '-F': must be a file descriptor number above 2",
        ),
        (
            Mode::Pasta,
            &["--log-size", "1024"],
            "Invalid log size 1024 for option '--log-size': must be at least 40960 bytes",
        ),
        (
            Mode::Passt,
            &["-t", "auto"],
            "Invalid port specifier auto for option '-t': 'auto' is for pasta only",
        ),
        (
            Mode::Pasta,
            &["-t", "all"],
            "Invalid port specifier all for option '-t': 'all' is for passt only",
        ),
        (
            Mode::Pasta,
            &["-T", "::1/80"],
            "Invalid port specifier ::1/80 for option '-T': no address or interface for namespace-side forwarding",
        ),
        (
            Mode::Pasta,
            &["-t", "none", "-t", "80"],
            "Invalid port specifier 80 for option '-t': conflicts with an earlier 'none', 'auto' or 'all'",
        ),
        (
            Mode::Pasta,
            &["-t", "80", "-t", "none"],
            "Invalid port specifier none for option '-t': can't follow other port specifiers",
        ),
        (
            Mode::Pasta,
            &["-t", "80", "-t", "79-81"],
            "Invalid port specifier 79-81 for option '-t': port 80 is already forwarded",
        ),
        (
            Mode::Pasta,
            &["--no-tcp", "-t", "80"],
            "option '-t' can't be combined with --no-tcp",
        ),
        (
            Mode::Pasta,
            &["-U", "53", "--no-udp"],
            "option '-U' can't be combined with --no-udp",
        ),
    ];
    for (mode, args, want) in cases {
        assert_eq!(err(*mode, args), *want, "{args:?}");
    }
}

#[test]
fn error_order_follows_the_three_passes() {
    // Pass 1 reports syntax errors before pass 2 looks at port specs…
    assert_eq!(
        err(Mode::Pasta, &["-t", "70000", "--bogus"]),
        "unrecognized option '--bogus'"
    );
    assert!(err(Mode::Pasta, &["-t", "70000", "-m", "50"]).contains("'-m'"));
    // …and -t/-u before -T/-U.
    assert!(err(Mode::Pasta, &["-T", "70000", "-t", "70001"]).contains("'-t'"));
    // --version ends parsing where it stands.
    assert_eq!(
        parse(Mode::Pasta, ["--version", "--bogus"]),
        Ok(Action::Version)
    );
    assert_eq!(
        parse(Mode::Pasta, ["-t", "70000", "--version"]),
        Ok(Action::Version)
    );
    assert_eq!(
        err(Mode::Pasta, &["--bogus", "--version"]),
        "unrecognized option '--bogus'"
    );
    assert!(err(Mode::Pasta, &["-m", "50", "--version"]).contains("MTU"));
}

#[test]
fn errors_are_one_line() {
    for args in [&["--dhcp"][..], &["-t", "1-2:3-5"], &["--netns", "x", "1"]] {
        let e: CliError = parse(Mode::Pasta, args).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Words from the option table and plausible (and implausible) values.
    fn word() -> impl Strategy<Value = String> {
        let names: Vec<String> = passt_cli::options::OPTIONS
            .iter()
            .flat_map(|d| {
                d.longs
                    .iter()
                    .map(|l| format!("--{l}"))
                    .chain(d.short.map(|c| format!("-{c}")))
            })
            .collect();
        prop_oneof![
            proptest::sample::select(names),
            proptest::sample::select(vec![
                "--",
                "-",
                "none",
                "auto",
                "all",
                "80",
                "70000",
                "1-2:3-4",
                "::1/80",
                "%lo/22",
                "~1-1000",
                "192.0.2.1",
                "2001:db8::1",
                "0",
                "65520",
                "24",
                "sh",
                "1234",
            ])
            .prop_map(String::from),
            "\\PC{0,12}",
            "-[a-zA-Z0-9]{1,4}",
            "--[a-z-]{1,12}(=[a-z0-9:/.]{0,6})?",
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(words in proptest::collection::vec(word(), 0..12), pasta in any::<bool>()) {
            let mode = if pasta { Mode::Pasta } else { Mode::Passt };
            if let Err(e) = parse(mode, &words) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
