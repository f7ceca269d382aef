fn main() -> std::process::ExitCode {
    jobctl::cli::main()
}
