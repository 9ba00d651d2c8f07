"""The README's Python snippets (sections "From Python" and "Coming from PsychRNN") run as
written, in order, in a scratch folder beside a copy of scripts/; a line ending in
``# LITERAL`` (a Python literal) must evaluate to that value."""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTIONS = ("## From Python", "## Coming from PsychRNN")
CHECKED_LINE = re.compile(r"^(?P<expr>[^#\s].*?)\s+#\s+(?P<value>[\[(\d'\"].*)$")


def readme_python_blocks():
    """The ```python blocks of the README's Python sections, in order."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = []
    for heading in SECTIONS:
        start = text.index(heading + "\n")
        end = text.find("\n## ", start + len(heading))
        section = text[start:end if end >= 0 else len(text)]
        blocks += [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    return blocks


def test_there_are_snippets_to_run():
    assert len(readme_python_blocks()) == 3


def test_readme_python_snippets_run_and_show_true_values(tmp_path, monkeypatch):
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    monkeypatch.chdir(tmp_path)
    checked = []

    def check(got, want, line):
        assert got == want, f"README line {line!r} gives {got!r}"
        checked.append(line)

    namespace = {"__check__": check}
    for block in readme_python_blocks():
        lines = []
        for line in block.splitlines():
            m = CHECKED_LINE.match(line)
            if m and "=" not in m.group("expr").split("(")[0]:
                ast.literal_eval(m.group("value"))  # the README shows a literal
                line = f"__check__({m.group('expr')}, {m.group('value')}, {line!r})"
            lines.append(line)
        exec(compile("\n".join(lines), "README.md", "exec"), namespace)
    assert len(checked) >= 6, checked
    # What the snippets claim in words: the silenced network and the loaded one are real.
    assert namespace["sim"].outputs.shape == (64, 200, 2)
    more = namespace["more"]
    assert more.config["model"]["load"].endswith("saved.npz")
    assert more.summary["iterations"] == 100
    assert more.summary["final_accuracy"] > 0.95  # it went on from the trained weights
