"""Cadenza graph service."""
