"""The `outpack` command line: one module per subcommand, each with `register`."""
