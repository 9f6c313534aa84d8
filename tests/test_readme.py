"""The README's Python examples run as written (from the repository root)."""

from __future__ import annotations

import re

from .conftest import ROOT


def test_readme_python_examples_run(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [re.sub(r"^  ", "", b, flags=re.M) for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)]
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the project's own documentation
    resident, hukou = (float(v) for v in capsys.readouterr().out.split()[-2:])
    assert 0.6 < resident < 0.8 and 0.4 < hukou < resident
