"""`python -m cadenza_inference`: run the inference service alone."""

from cadenza_inference.app import create_service
from cadenza_runtime.server import run_service

if __name__ == "__main__":
    run_service("inference", create_service)
