//! `pasta`: network connectivity for a namespace, through a tap device.
/// Counts allocations so tests can check the event loop makes none.
#[global_allocator]
static ALLOCATOR: passt_shim_linux::alloc_count::CountingAllocator =
    passt_shim_linux::alloc_count::CountingAllocator;

fn main() -> std::process::ExitCode {
    passt_cli::launch::main(passt_core::config::Mode::Pasta)
}
