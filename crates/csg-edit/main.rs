fn main() -> std::process::ExitCode {
    csg_edit::main()
}
