//! The `proj-import` binary: its arguments and its work are the `proj_import` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(proj_import::run)
}
