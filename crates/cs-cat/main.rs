//! The `cs-cat` binary: its arguments and its work are the `cs_cat` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(cs_cat::run)
}
