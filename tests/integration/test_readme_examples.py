"""The README's tritonclient example as a newcomer pastes it (only its two addresses and `latest` point at this
stack's gateway and model: other tests store models that cannot load): it draws its seven.png with the README's own
command, loads it, and asks both clients for the model's SoftM and Conv1."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", ROOT.joinpath("README.md").read_text(), re.S)


def test_the_tritonclient_example_runs_as_written(stack, trained_model, tmp_path):
    (example,) = [block for block in readme_blocks("python") if "import tritonclient" in block]
    (draw_seven,) = [line for block in readme_blocks("sh") for line in block.splitlines() if '"seven.png"' in line]
    subprocess.run(draw_seven, shell=True, check=True, cwd=tmp_path, executable="/bin/bash",
                   env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})   # python3: the environment's
    example = example.replace("127.0.0.1:50051", stack.address).replace("127.0.0.1:8000",
                                                                        stack.http_url.removeprefix("http://"))
    example = example.replace('"latest"', f'"{trained_model.model_id}"')
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = re.findall(r"True True\n(\[\[.*?\]\])\n\(1, 20, 24, 24\)\n", done.stdout, re.S)
    assert len(answers) == 2 and answers[0] == answers[1], done.stdout      # gRPC and REST: the same SoftM
    probabilities = [float(number) for number in answers[0].strip("[]").split()]
    assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 0.01, done.stdout
