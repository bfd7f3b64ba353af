//! The `cs-to-star` binary: its arguments and its work are the `cs_to_star` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(cs_to_star::run)
}
