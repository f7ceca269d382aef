fn main() -> std::process::ExitCode {
    jobctl::app::main()
}
