"""Settings are read once per entry point, from one module, and the README's table lists exactly those variables."""
import ast
import re
from pathlib import Path

import pytest

from lenet_protos.contract import REDIS_STOP_SECONDS, SERVER_STOP_SECONDS, STOP_MARGIN_SECONDS, node_stop_seconds, \
    stack_stop_seconds
from lenet_protos.settings import ClientSettings, ServiceSettings, TracingSettings, env_names, load

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {**env_names(ServiceSettings), **env_names(ClientSettings), **env_names(TracingSettings)}


def readme_variables() -> list[str]:
    """The first column of the README's configuration table."""
    section = ROOT.joinpath("README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` \|", section, re.M)


def test_the_readme_table_lists_every_setting_once():
    listed = readme_variables()
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) == set(SETTINGS), "README's configuration table and protos/settings.py differ"


def test_no_module_reads_the_environment_but_the_settings():
    """os.environ / os.getenv appear only in protos/settings.py (pydantic reads it) and where a child process's
    environment is assembled (services/stack.py, the worker supervisor in workers/__main__.py) or a process replaces
    itself (os.execv), and where MXNet's thread settings are written before it is imported (workers/engine/threads.py:
    MXNet reads them only from there)."""
    allowed = {"protos/settings.py", "services/stack.py", "services/store/redis_server.py", "workers/__main__.py",
               "workers/engine/threads.py"}
    readers = []
    for path in [*ROOT.glob("protos/**/*.py"), *ROOT.glob("services/**/*.py"), *ROOT.glob("workers/**/*.py"),
                 *ROOT.glob("clients/**/*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [r for r in readers if r.split(":")[0] not in allowed] == []


def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("LENET_HEARTBEAT_SECONDS", "soon")
    with pytest.raises(ValueError) as caught:
        load(ServiceSettings)
    assert str(caught.value).startswith("bad setting: LENET_HEARTBEAT_SECONDS:") and "\n" not in str(caught.value)


def test_environment_then_arguments(monkeypatch, tmp_path):
    monkeypatch.setenv("LENET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LENET_GATEWAY", "gw:1")
    monkeypatch.setenv("LENET_TIMEOUT", "")             # empty counts as unset
    assert ServiceSettings().data_dir == tmp_path
    assert ServiceSettings(data_dir="/elsewhere").data_dir == Path("/elsewhere")
    assert ClientSettings().gateway == "gw:1" and ClientSettings().timeout is None


def test_the_readme_states_the_stop_bounds_of_the_code():
    """The README's "Stopping" names the bounds lenet_protos.contract computes from the default stop grace."""
    section = ROOT.joinpath("README.md").read_text().split("### Stopping", 1)[1].split("\n#", 1)[0]
    grace = ServiceSettings.model_fields["stop_grace_seconds"].default
    stated = [f"`LENET_STOP_GRACE_SECONDS`\n({grace:.0f} s;", f"stops within {node_stop_seconds(grace):.0f} s",
              f"(killed after {SERVER_STOP_SECONDS:.0f} s)",
              f"(killed\nafter {node_stop_seconds(grace) + STOP_MARGIN_SECONDS:.0f} s)",
              f"Redis (killed\nafter {REDIS_STOP_SECONDS:.0f} s)", f"at most {stack_stop_seconds(grace):.0f} s"]
    assert [text for text in stated if text.replace("\n", " ") not in " ".join(section.split())] == []
