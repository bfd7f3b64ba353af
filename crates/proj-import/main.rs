fn main() -> std::process::ExitCode {
    proj_import::main()
}
