//! The `psychrnn` command line: parse, run, map errors to exit codes.

// The global allocator (`psychrnn::memory::CountingAllocator`, which counts heap bytes for
// `psychrnn bench` and the script sandbox) is declared by the library.

fn main() {
    std::process::exit(psychrnn::cli::main());
}
