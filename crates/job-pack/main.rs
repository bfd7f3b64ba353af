fn main() -> std::process::ExitCode {
    job_pack::main()
}
