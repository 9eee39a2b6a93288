"""Bad data files and stdin: byte-order marks, CR line endings, line breaks inside a line, a split that is not there."""

import json

import pytest
from conftest import SOURCES, TARGETS, cli, write

from hf_onelayer.data import read_parallel_files

pytestmark = pytest.mark.xdist_group("bad_input")


def test_a_byte_order_mark_is_dropped(tmp_path):
    de = write(tmp_path / "a.de", "\ufeffEin Hund.\nZwei Katzen.\n".encode())
    en = write(tmp_path / "a.en", "A dog.\nTwo cats.\n")
    assert read_parallel_files(de, en)["de"] == ["Ein Hund.", "Zwei Katzen."]


def test_cr_only_line_endings_are_lines(tmp_path):
    de = write(tmp_path / "a.de", "\r".join(f"Satz {i}." for i in range(300)) + "\r")
    en = write(tmp_path / "a.en", "\r\n".join(f"Sentence {i}." for i in range(300)) + "\r\n")
    data = read_parallel_files(de, en)
    assert len(data) == 300 and data[299] == {"de": "Satz 299.", "en": "Sentence 299."}


@pytest.mark.parametrize("bad, words", [
    ("Ein\rHund.", "a carriage return (CR) inside the line"),
    ("Ein\u2028Hund.", "U+2028 LINE SEPARATOR inside the line (column 4)"),
    ("Ein\u2029Hund.", "U+2029 PARAGRAPH SEPARATOR inside the line"),
])
def test_a_line_break_inside_a_line_is_named_not_split(tmp_path, bad, words):
    """A stray CR (or a Unicode separator) inside line 5 of one file and line 9 of the other would split both in two:
    the counts still match and pairs 6-9 would train misaligned."""
    from hf_onelayer.data import DataError

    lines = [f"Satz {i}." for i in range(12)]
    de = write(tmp_path / "a.de", "\n".join(lines[:4] + [bad] + lines[5:]) + "\n")
    en = write(tmp_path / "a.en", "\r\n".join(lines[:8] + [bad.replace("Ein", "A")] + lines[9:]) + "\r\n")
    with pytest.raises(DataError) as refused:
        read_parallel_files(de, en)
    assert str(refused.value).startswith(f"{de}:5: ") and words in str(refused.value)
    with pytest.raises(DataError, match=f"^{en}:9: "):
        read_parallel_files(write(tmp_path / "b.de", "\n".join(lines) + "\n"), en)


@pytest.mark.parametrize("stdin, expected", [
    (b"\xef\xbb\xbfEin Hund.\nZwei Katzen.\n", ["Ein Hund.", "Zwei Katzen."]),  # the BOM is dropped
    (b"Ein Hund.\rZwei Katzen.\r\rEin Hund.\r", ["Ein Hund.", "Zwei Katzen.", "", "Ein Hund."]),  # CR line ends
    (b"Ein Hund.\r\nZwei Katzen.", ["Ein Hund.", "Zwei Katzen."]),
])
def test_stdin_is_read_as_files_are(model_dir, stdin, expected):
    import subprocess
    import sys

    from hf_onelayer.translation import load, translate

    out = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "translate", "--model", str(model_dir)], input=stdin,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    model, tok = load(str(model_dir))
    assert out.stdout.decode().split("\n")[:-1] == translate(model, tok, expected)


@pytest.mark.parametrize("stdin, words", [(b"Ein Hund.\nZwei \xff Katzen.\n", "<stdin>:2: not valid UTF-8"),
                                          (b"Ein\rHund.\n", "<stdin>:1: a carriage return (CR) inside the line")])
def test_bad_stdin_is_one_line(model_dir, stdin, words):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "hf_onelayer.cli", "translate", "--model", str(model_dir)], input=stdin,
                         capture_output=True, timeout=300)
    assert out.returncode == 2 and out.stdout == b""
    (line,) = out.stderr.decode().strip().splitlines()  # one line, no traceback
    assert line.startswith(f"hf-onelayer translate: {words}")


def test_evaluate_reads_only_the_split_it_is_given(model_dir, tmp_path, capfd):
    for stem in ("test_2016_flickr", "test_2017_flickr"):  # no train.* and no val.* here
        write(tmp_path / f"{stem}.de", "\n".join(SOURCES) + "\n")
        write(tmp_path / f"{stem}.en", "\n".join(TARGETS) + "\n")
    runs = [["--data_dir", str(tmp_path), "--split", split] for split in ("test", "test_2017_flickr")]
    runs.append(["--source_file", str(tmp_path / "test_2017_flickr.de"),
                  "--reference_file", str(tmp_path / "test_2017_flickr.en")])
    results = []
    for flags in runs:
        capfd.readouterr()
        assert cli(["evaluate", "--model", str(model_dir), *flags]) == 0
        results.append(json.loads(capfd.readouterr().out.strip().splitlines()[-1]))
        assert results[-1]["n_sentences"] == len(SOURCES)
    assert results[0] == results[1] == results[2]  # the same sentences, however they are named
