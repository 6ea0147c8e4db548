"""Regenerates the Python code (messages, gRPC stubs, type stubs) from `protos/`.

Run `cadenza gen-protos` (or `python -m cadenza_suite.protogen`) after changing a proto;
`--check` exits non-zero when the committed code differs from what the protos produce.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"
OUTPUT_ROOT = REPO_ROOT / "libs"
GENERATED_PACKAGE = "cadenza"


def _proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generate_into(out_dir: Path) -> None:
    """Runs protoc with the Python, gRPC and mypy-protobuf plugins into out_dir."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = [str(p.relative_to(PROTO_ROOT)) for p in _proto_files()]
    plugin_dir = Path(sys.executable).parent  # mypy-protobuf installs its plugins beside python
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={plugin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugin_dir / 'protoc-gen-mypy_grpc'}",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    package_root = out_dir / GENERATED_PACKAGE
    for directory in [package_root, *(p for p in package_root.rglob("*") if p.is_dir())]:
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("")
    (package_root / "py.typed").write_text("")


def _diff(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two generated trees."""
    problems: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        for name in cmp.left_only:
            problems.append(f"missing in libs/: {prefix}{name}")
        for name in cmp.right_only:
            if name != "__pycache__":
                problems.append(f"not produced by the protos: {prefix}{name}")
        for name in cmp.common_files:
            if (Path(cmp.left) / name).read_bytes() != (Path(cmp.right) / name).read_bytes():
                problems.append(f"differs: {prefix}{name}")
        for name, sub in cmp.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(expected, actual), f"{GENERATED_PACKAGE}/")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate_into(fresh)
        target = OUTPUT_ROOT / GENERATED_PACKAGE
        if args.check:
            problems = (
                _diff(fresh / GENERATED_PACKAGE, target) if target.exists() else ["libs/cadenza missing"]
            )
            if problems:
                print("generated code is out of date; run `cadenza gen-protos`:", file=sys.stderr)
                for line in problems:
                    print(f"  {line}", file=sys.stderr)
                return 1
            print("generated code matches the protos")
            return 0
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(fresh / GENERATED_PACKAGE, target)
        print(f"generated {GENERATED_PACKAGE}/ from {len(_proto_files())} protos into {OUTPUT_ROOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
