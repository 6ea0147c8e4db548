"""Which package may import which, read from the source (every import statement, top level or not).

- libs/ (the generated messages, the SDK, the runtime, the `cadenza` command) never import a
  package of services/: a library that reaches into a service's modules couples the two releases;
  the `cadenza` command talks to services through their RPCs or starts them as processes.
- A service never imports another service's modules: they talk through their protos.
- cadenza_training (offline model work) may import the serving package's model layer, never the
  reverse: serving never imports cadenza_training.
- The SDK (cadenza_client, its own distribution) needs only the generated messages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBS = ("cadenza", "cadenza_client", "cadenza_runtime", "cadenza_suite")
SERVICES = tuple(sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").is_file()))
TRAINING = "cadenza_training"
# What cadenza_training may use of the serving package: the model it trains and registers.
TRAINING_MAY_IMPORT = ("cadenza_inference.model", "cadenza_inference.adapters", "cadenza_inference.registry")


def _package_of(module: str) -> str:
    return module.split(".", 1)[0]


def imports(path: Path) -> Iterator[str]:
    """The absolute modules a file imports (relative imports stay inside its own package)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def edges(top: str, packages: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    """(file relative to the root, its package, an imported cadenza module) for every import."""
    for package in packages:
        for path in sorted((ROOT / top / package).rglob("*.py")):
            for module in imports(path):
                if module.startswith("cadenza"):
                    yield str(path.relative_to(ROOT)), package, module


def violation(package: str, module: str) -> str | None:
    """Why `package` must not import `module`, or None when it may."""
    target = _package_of(module)
    if target == package:
        return None
    if package in LIBS:
        if target in SERVICES:
            return "a library imports a service's module"
        if package == "cadenza_client" and target != "cadenza":
            return "the SDK needs only the generated messages"
        return None
    if target == TRAINING:
        return "serving code imports the training package"
    if target in SERVICES:
        if package == TRAINING and module.startswith(TRAINING_MAY_IMPORT):
            return None
        return "a service imports another service's module"
    return None


def test_layers_import_only_downwards() -> None:
    assert {"cadenza_inference", "cadenza_orchestrator", TRAINING} <= set(SERVICES)
    found = {
        (file, module, why)
        for top, packages in (("libs", LIBS), ("services", SERVICES))
        for file, package, module in edges(top, packages)
        if (why := violation(package, module)) is not None
    }
    assert not found, "\n".join(f"{file}: imports {module}: {why}" for file, module, why in sorted(found))


def test_the_rules_catch_each_kind() -> None:
    """The rules themselves: each forbidden direction is reported, each allowed one is not."""
    assert violation("cadenza_suite", "cadenza_orchestrator.auth")
    assert violation("cadenza_suite", "cadenza_training.command")
    assert violation("cadenza_runtime", "cadenza_metadata.names")
    assert violation("cadenza_client", "cadenza_runtime.errors")
    assert violation("cadenza_orchestrator", "cadenza_metadata.names")
    assert violation("cadenza_inference", "cadenza_training.data")
    assert violation("cadenza_training", "cadenza_orchestrator.auth")
    assert violation("cadenza_training", "cadenza_inference.servicer")
    assert violation("cadenza_suite", "cadenza_runtime.user_tokens") is None
    assert violation("cadenza_training", "cadenza_inference.model.checkpoint") is None
    assert violation("cadenza_orchestrator", "cadenza_runtime.client") is None
    assert violation("cadenza_client", "cadenza.common.v1.types_pb2") is None


def test_imports_sees_nested_and_from_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import cadenza_a.x\nfrom cadenza_b import y\nfrom . import z\n"
        "def f() -> None:\n    from cadenza_c.w import v\n"
    )
    assert sorted(imports(source)) == ["cadenza_a.x", "cadenza_b", "cadenza_c.w"]
