"""`python -m cadenza_metadata`: run the metadata service alone."""

from cadenza_metadata.app import create_service
from cadenza_runtime.server import run_service

if __name__ == "__main__":
    run_service("metadata", create_service)
