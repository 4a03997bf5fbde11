//! Errors stay one line, whatever the rejected argument contains.
use passt_cli::parse;
use passt_core::Mode;

/// A rejected argument with a line break (or another control character) is echoed
/// escaped: the error stays one line.
#[test]
fn errors_stay_one_line_whatever_the_argument() {
    for args in [
        &["-m", "15\n0"][..],
        &["-a", "192.0.2.1\r\n"],
        &["--bogus\noption"],
    ] {
        let e = parse(Mode::Pasta, args).unwrap_err().to_string();
        assert!(!e.contains('\n') && !e.contains('\r'), "{args:?}: {e:?}");
    }
}
