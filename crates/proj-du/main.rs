//! The `proj-du` binary: its arguments and its work are the `proj_du` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(proj_du::run)
}
