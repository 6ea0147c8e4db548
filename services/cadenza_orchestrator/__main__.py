"""`python -m cadenza_orchestrator`: run the orchestrator service alone."""

from cadenza_orchestrator.app import create_service
from cadenza_runtime.server import run_service

if __name__ == "__main__":
    run_service("orchestrator", create_service)
