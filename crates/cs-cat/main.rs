fn main() -> std::process::ExitCode {
    cs_cat::main()
}
