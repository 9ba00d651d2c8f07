//! The `psychrnn` command line: parse, call into the library, map errors to exit codes.
//!
//! The command line is private to the binary (`src/cli/`): everything it does is a library
//! call, so embedders use the same code through `psychrnn::pipeline`, `psychrnn::report`, ….

// The global allocator (`psychrnn::memory::CountingAllocator`, which counts heap bytes for
// `psychrnn bench` and the script sandbox) is declared by the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
