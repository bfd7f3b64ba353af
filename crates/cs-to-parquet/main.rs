//! The `cs-to-parquet` binary: its arguments and its work are the `cs_to_parquet` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(cs_to_parquet::run)
}
