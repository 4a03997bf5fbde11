//! `pesto`: add and remove a running pasta's port forwards through its control socket.

fn main() -> std::process::ExitCode {
    let words: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let status = passt_cli::pesto::main(&words);
    std::process::ExitCode::from(u8::try_from(status).unwrap_or(1))
}
