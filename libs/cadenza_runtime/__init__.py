"""Shared runtime for every Cadenza service: configuration, server, clients, errors, telemetry."""
