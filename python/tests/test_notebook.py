"""examples/quickstart.ipynb runs from top to bottom (nbclient, the kernel of this venv), so the
example cannot rot; its own cells assert the numpy forward pass agrees with psychrnn."""

from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_notebook_runs(tmp_path):
    # Run it from a scratch copy of the layout it expects (examples/ beside scripts/), so its
    # run directory lands in tmp_path, not in the repository.
    (tmp_path / "scripts").symlink_to(REPO / "scripts")
    (tmp_path / "examples").mkdir()
    notebook = nbformat.read(REPO / "examples" / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path / "examples")}},
    )
    client.execute()
    text = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "stream"
    )
    assert "max |numpy - psychrnn| = " in text
    assert "half the units silenced" in text
    assert "(16, 200, 2) (16, 200, 2) (16, 200, 2) float32" in text
    assert "config field `model.nrec`: unknown field `nrec`" in text
    assert "done: test accuracy" in text  # the progress lines reached the cell
