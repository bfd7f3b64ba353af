//! The `cs-join` binary: its arguments and its work are the `cs_join` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(cs_join::run)
}
