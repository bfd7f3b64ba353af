//! The `csv-to-cs` binary: its arguments and its work are the `csv_to_cs` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(csv_to_cs::run)
}
