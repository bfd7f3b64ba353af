fn main() -> std::process::ExitCode {
    cs_to_parquet::main()
}
