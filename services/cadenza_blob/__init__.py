"""Cadenza blob service."""
