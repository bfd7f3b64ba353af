fn main() -> std::process::ExitCode {
    cs_to_star::main()
}
