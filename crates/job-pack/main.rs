//! The `job-pack` binary: its arguments and its work are the `job_pack` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(job_pack::run)
}
