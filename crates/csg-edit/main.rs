//! The `csg-edit` binary: its arguments and its work are the `csg_edit` crate's `Args` and `run`.

fn main() -> std::process::ExitCode {
    cs_cli::main(csg_edit::run)
}
