//! The `psychrnn` command line: parse, run, map errors to exit codes.

fn main() {
    std::process::exit(psychrnn::cli::main());
}
