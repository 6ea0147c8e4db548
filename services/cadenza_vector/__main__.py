"""`python -m cadenza_vector`: run the vector service alone."""

from cadenza_runtime.server import run_service
from cadenza_vector.app import create_service

if __name__ == "__main__":
    run_service("vector", create_service)
