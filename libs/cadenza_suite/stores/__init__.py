"""Launchers for the five stores of the local suite."""
