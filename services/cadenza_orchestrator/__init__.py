"""Cadenza orchestrator service."""
