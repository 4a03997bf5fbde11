//! AFL target: pasta's and passt's command line (argv split at NUL bytes).
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::cli_argv(data));
}
