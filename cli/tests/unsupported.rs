//! What this build refuses, and says so in one line before doing anything:
//! `--repair-path PATH` (TCP migration is not implemented), and passt's `-c` (the
//! control socket is pasta's). `--vhost-user` is served (`vhost_user_lab.rs`).

use std::process::Command;

fn passt(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_passt"))
        .args(args)
        .output()
        .expect("run passt");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unsupported_passt_features_are_refused_with_one_line() {
    for (args, says) in [
        (
            &["-f", "--repair-path", "/nonexistent/repair"][..],
            "--repair-path",
        ),
        (&["-f", "-c", "/nonexistent/control"], "-c"),
    ] {
        let (code, err) = passt(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
