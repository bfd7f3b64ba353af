fn main() -> std::process::ExitCode {
    proj_du::main()
}
