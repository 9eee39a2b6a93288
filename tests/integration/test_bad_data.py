"""Bad data files: byte-order marks, CR line endings, a split that is not there (issue 14)."""

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
