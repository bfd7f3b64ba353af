fn main() -> std::process::ExitCode {
    proj_clean::main()
}
