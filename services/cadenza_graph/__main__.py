"""`python -m cadenza_graph`: run the graph service alone."""

from cadenza_graph.app import create_service
from cadenza_runtime.server import run_service

if __name__ == "__main__":
    run_service("graph", create_service)
