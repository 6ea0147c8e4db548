"""Cadenza metadata service."""
