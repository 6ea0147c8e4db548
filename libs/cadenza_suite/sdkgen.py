"""Regenerates the client SDKs' code (Go, TypeScript, Java under libs/sdk) from `protos/`.

    python -m cadenza_suite.sdkgen [--lang go|ts|java ...] [--check]

Each language has one buf template, libs/sdk/buf.gen.<lang>.yaml (managed mode supplies the
go_package / java_package / java_multiple_files options the protos do not carry). The output is
committed, like the Python code of `cadenza_suite.protogen`: a Go module is consumed as source
(`go get` runs no generator), and committed TypeScript/Java sources let a user build the SDK with
only npm or Maven. `--check` regenerates into a temporary directory and exits non-zero when the
committed code differs (CI runs it in `make check`). The plugins are pinned and installed by
`cadenza install`, so the output is the same on every machine.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cadenza_suite import installers

REPO_ROOT = Path(__file__).resolve().parents[2]
SDK_ROOT = REPO_ROOT / "libs" / "sdk"
BUF = Path(sys.executable).parent / "buf"


@dataclass(frozen=True)
class Target:
    template: Path
    # Directory the committed generated code lives in (buf's -o).
    out: Path


TARGETS: dict[str, Target] = {
    "go": Target(SDK_ROOT / "buf.gen.go.yaml", SDK_ROOT / "go" / "gen"),
    "ts": Target(SDK_ROOT / "buf.gen.ts.yaml", SDK_ROOT / "typescript" / "src" / "gen"),
    "java": Target(SDK_ROOT / "buf.gen.java.yaml", SDK_ROOT / "java" / "src" / "generated" / "java"),
}


def _tools_ready(lang: str) -> None:
    if lang == "go":
        installers.ensure_go_protoc_plugins()
    elif lang == "java":
        installers.ensure_java_protoc_plugins()
    elif not (SDK_ROOT / "typescript" / "node_modules" / ".bin" / "protoc-gen-es").exists():
        installers.ensure_typescript_sdk()


def _env() -> dict[str, str]:
    # buf runs `local:` plugins and protoc from PATH: the pinned ones first.
    path = os.pathsep.join(
        [str(installers.sdk_bin_dir()), str(installers.go_bin_dir()), os.environ.get("PATH", "")]
    )
    return dict(os.environ, PATH=path)


def generate_into(lang: str, out_dir: Path) -> None:
    target = TARGETS[lang]
    argv = [
        str(BUF),
        "generate",
        "--template",
        str(target.template.relative_to(REPO_ROOT)),
        "-o",
        str(out_dir),
    ]
    result = subprocess.run(argv, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _diff(expected: Path, actual: Path) -> list[str]:
    problems: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        problems.extend(f"missing: {prefix}{name}" for name in cmp.left_only)
        problems.extend(f"not produced by the protos: {prefix}{name}" for name in cmp.right_only)
        for name in cmp.common_files:
            if (Path(cmp.left) / name).read_bytes() != (Path(cmp.right) / name).read_bytes():
                problems.append(f"differs: {prefix}{name}")
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    if not actual.is_dir():
        return [f"missing: {actual.relative_to(REPO_ROOT)}/"]
    walk(filecmp.dircmp(expected, actual), f"{actual.relative_to(REPO_ROOT)}/")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lang", action="append", choices=sorted(TARGETS), help="default: all")
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args(argv)
    problems: list[str] = []
    for lang in args.lang or sorted(TARGETS):
        _tools_ready(lang)
        with tempfile.TemporaryDirectory(prefix=f"sdkgen-{lang}-") as tmp:
            fresh = Path(tmp) / "gen"
            generate_into(lang, fresh)
            out = TARGETS[lang].out
            if args.check:
                problems.extend(_diff(fresh, out))
            else:
                shutil.rmtree(out, ignore_errors=True)
                shutil.copytree(fresh, out)
                print(f"{lang}: regenerated {out.relative_to(REPO_ROOT)}")
    if problems:
        print("generated SDK code is stale; run `python -m cadenza_suite.sdkgen`:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
