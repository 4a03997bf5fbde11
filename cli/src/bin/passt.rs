//! `passt`: network connectivity for a virtual machine, through qemu's stream socket.
fn main() -> std::process::ExitCode {
    passt_cli::launch::main(passt_core::config::Mode::Passt)
}
