//! The `cpos` binary.

fn main() -> std::process::ExitCode {
    cpos::cli::main()
}
