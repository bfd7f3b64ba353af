//! The `proj-clean` binary: its arguments and its work are the `proj_clean` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(proj_clean::run)
}
