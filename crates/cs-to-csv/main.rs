//! The `cs-to-csv` binary: its arguments and its work are the `cs_to_csv` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(cs_to_csv::run)
}
