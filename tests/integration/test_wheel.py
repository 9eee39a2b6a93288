"""The wheel works outside the checkout: built with ``pip wheel``, installed into a new venv in a temporary folder
with no ``release/`` and no ``../shared`` in reach, then run as a user would."""

import os
import re
import subprocess
import sys
import sysconfig

import pytest
from conftest import REPO, SOURCES, save_folder

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

COMMANDS_WITH_A_DEFAULT_MODEL = [
    ["translate", "Ein Hund rennt."],
    ["evaluate", "--source_file", "{src}", "--reference_file", "{src}"],
    ["analyze", "model", "--data_dir", "{tmp}"],
    ["export-ct2", "--output_dir", "{tmp}/ct2"],
    ["explore"],
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, work folder): the wheel installed with --no-deps into a venv that finds the other packages
    through a .pth line naming this interpreter's site-packages (so nothing is downloaded); the editable
    install of the checkout is not on that path (its .pth hook only runs for site directories)."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "-w", str(dist), "--no-deps",
                    "--no-build-isolation", "-q"], check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("hf_onelayer-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True, timeout=300)
    work = root / "work"
    work.mkdir()
    return venv / "bin", work


def _run(installed, *args, stdin=None):
    bin_dir, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HF_ONELAYER_MODEL", "HF_ONELAYER_DATA")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return subprocess.run(list(args), cwd=work, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    bin_dir, work = installed
    out = _run(installed, str(bin_dir / "python"), "-c", "import hf_onelayer; print(hf_onelayer.__file__)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(bin_dir.parent)) and str(REPO) not in out.stdout
    assert not (work / ".." / "shared").exists() and not (work / "release").exists()
    help_ = _run(installed, "hf-onelayer", "--help")
    assert help_.returncode == 0 and "export-ct2" in help_.stdout and "explore" in help_.stdout
    train_help = _run(installed, "hf-onelayer", "train", "--help")  # the saved text travels in the wheel
    assert train_help.stdout == (REPO / "hf_onelayer" / "commands" / "help" / "train.txt").read_text()


def test_translate_a_saved_folder_and_its_remote_code_needs_no_source_tree(installed, tmp_path):
    from conftest import joint_pair

    from hf_onelayer.translation import translate

    model, tok = joint_pair()
    folder = installed[1] / "model"
    save_folder(model, tok, folder)
    imports = re.compile(r"^\s*(from|import)\s+hf_onelayer\b", re.M)
    assert list(folder.glob("*.py")) and not [p for p in folder.glob("*.py") if imports.search(p.read_text())]
    out = _run(installed, "hf-onelayer", "translate", "--model", str(folder), stdin=SOURCES[0] + "\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [translate(model, tok, SOURCES[0])]
    child = (
        "import sys; sys.modules['hf_onelayer'] = None\n"
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"
        f"m = AutoModelForSeq2SeqLM.from_pretrained({str(folder)!r}, trust_remote_code=True)\n"
        f"t = AutoTokenizer.from_pretrained({str(folder)!r}, trust_remote_code=True)\n"
        f"print(t.decode(m.generate(**t([{SOURCES[0]!r}], return_tensors='pt'))[0], skip_special_tokens=True))\n"
        "print(type(m).__module__)\n")
    remote = _run(installed, str(installed[0] / "python"), "-c", child)
    assert remote.returncode == 0, remote.stderr[-2000:]
    text, module = remote.stdout.strip().splitlines()[-2:]
    assert text == translate(model, tok, SOURCES[0]) and module.startswith("transformers_modules")


@pytest.mark.parametrize("args", COMMANDS_WITH_A_DEFAULT_MODEL, ids=[a[0] + (a[1] if a[0] == "analyze" else "")
                                                                      for a in COMMANDS_WITH_A_DEFAULT_MODEL])
def test_a_default_model_that_is_not_there_is_one_line_saying_what_to_pass(installed, args):
    work = installed[1]
    (work / "s.de").write_text("Ein Hund rennt.\n")
    out = _run(installed, "hf-onelayer", *[a.format(src=work / "s.de", tmp=work) for a in args])
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "--model" in out.stderr and "saved model folder" in out.stderr and "Hub id" in out.stderr, out.stderr
