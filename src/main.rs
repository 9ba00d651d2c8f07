//! The `psychrnn` command line: parse, run, map errors to exit codes.

/// Counts heap bytes, so `psychrnn bench` can report the peak memory of a training iteration.
#[global_allocator]
static ALLOCATOR: psychrnn::memory::CountingAllocator = psychrnn::memory::CountingAllocator;

fn main() {
    std::process::exit(psychrnn::cli::main());
}
