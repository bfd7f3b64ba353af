fn main() -> std::process::ExitCode {
    cs_join::main()
}
