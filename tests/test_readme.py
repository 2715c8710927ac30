"""The README opens with the two fresh-machine commands, and CI runs the second one verbatim."""

import re

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
