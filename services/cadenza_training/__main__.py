"""`python -m cadenza_training [-v] COMMAND [OPTIONS]`: the model commands `cadenza` hands over to
(train, evaluate, register-model, import-model); each parses its own options."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence


def _runner(command: str) -> Callable[[Sequence[str]], int] | None:
    # Imported on demand: torch (and diffusers for import-model) load only for the command run.
    if command == "train":
        from cadenza_training.command import run
    elif command == "evaluate":
        from cadenza_training.evaluation.command import run
    elif command == "register-model":
        from cadenza_training.register_command import run
    elif command == "import-model":
        from cadenza_training.import_command import run
    else:
        return None
    return run


def main(argv: Sequence[str]) -> int:
    verbose = bool(argv) and argv[0] in ("-v", "--verbose")
    args = list(argv[1:] if verbose else argv)
    run = _runner(args[0]) if args else None
    if run is None:
        print("usage: python -m cadenza_training [-v] {train,evaluate,register-model,import-model} ...")
        return 2
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="cadenza: %(message)s", stream=sys.stderr
    )
    # Client libraries log connection refusals while stores start; those are expected.
    for noisy in ("asyncio", "grpc"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    try:
        return run(args[1:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
