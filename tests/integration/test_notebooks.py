"""The tutorials in notebooks/ run top to bottom (small settings, as CI runs them) and are committed without outputs."""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_the_three_tutorials_are_there():
    assert [p.name for p in NOTEBOOKS] == ["attention.ipynb", "encoder_decoder.ipynb", "translator.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, data_dir, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("HF_ONELAYER_SMALL", "1")
    monkeypatch.setenv("HF_ONELAYER_DATA", str(data_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the kernel shares the cores with the other test worker
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])  # our python's kernel
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors
    assert any(out.output_type in ("display_data", "execute_result") and "image/png" in out.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs), "no figure was shown"
