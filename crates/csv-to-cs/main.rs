fn main() -> std::process::ExitCode {
    csv_to_cs::main()
}
