"""Cadenza suite tooling: the `cadenza` command, code generation and the local store launchers."""
