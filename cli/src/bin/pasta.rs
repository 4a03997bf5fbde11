//! `pasta`: network connectivity for a namespace, through a tap device.
fn main() -> std::process::ExitCode {
    passt_cli::launch::main(passt_core::config::Mode::Pasta)
}
