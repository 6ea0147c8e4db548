"""Cadenza vector service."""
