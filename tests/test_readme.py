"""The README opens with the two fresh-machine commands, CI runs the second one verbatim, and
its Python API example runs."""

import os
import re
import subprocess
import sys

from conftest import REPO_ROOT


def readme_commands():
    text = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", text, flags=re.S)


def test_readme_opens_with_install_demo_and_test_commands():
    commands = readme_commands()
    assert len(commands) >= 2
    install_and_demo, tests = commands[0].strip(), commands[1].strip()
    assert "pip install torch==2.13.0" in install_and_demo and install_and_demo.endswith("humanscore demo")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_lines[-1].strip() == readme_commands()[1].strip()


def test_readme_python_api_example_runs(tmp_path):
    section = (REPO_ROOT / "README.md").read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)\n```", section, flags=re.S)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    # The jittery walk raises the pooled jerk: its score falls below the clean bar of 95.
    jerk = next(line for line in lines if line.startswith("jerk:"))
    assert float(jerk.rsplit("score ", 1)[1]) < 95
    assert any(line.startswith("loss ") for line in lines)
