"""`python -m cadenza_blob`: run the blob service alone."""

from cadenza_blob.app import create_service
from cadenza_runtime.server import run_service

if __name__ == "__main__":
    run_service("blob", create_service)
