"""``smartcat calibrate`` end to end, and the bad-input cases (one-line error, exit 2, nothing
written)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration import read_responses
from calibration.simulate import random_items, simulate_responses
from smartcat.cli import main
from tests.calibration.conftest import lsat


def write_wide(path, matrix, ids=None):
    ids = ids or [f"q{k + 1}" for k in range(matrix.shape[1])]
    rows = [",".join(ids)]
    for row in matrix:
        rows.append(",".join("" if np.isnan(v) else str(int(v)) for v in row))
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture()
def wide_csv(tmp_path):
    path = tmp_path / "wide.csv"
    write_wide(path, lsat("LSAT7").to_matrix())
    return path


def test_wide_csv_2pl_writes_bank_records_and_report(tmp_path, wide_csv, capsys):
    out = tmp_path / "params.json"
    # --no-priors: plain maximum likelihood, as the mirt reference
    code = main(["calibrate", "--responses", str(wide_csv), "--model", "2pl", "--out", str(out),
                 "--report", str(tmp_path / "rep"), "--no-priors"])
    assert code == 0
    records = json.loads(out.read_text())
    assert [r["id"] for r in records] == ["q1", "q2", "q3", "q4", "q5"]
    # same numbers as the mirt reference (see test_published.py), through the whole CLI path
    np.testing.assert_allclose([r["a"] for r in records], [0.988, 1.081, 1.706, 0.7651, 0.7358],
                               atol=0.01)
    assert all({"id", "a", "b", "c", "se_a", "se_b", "se_c", "fit"} <= set(r) for r in records)
    assert records[0]["fit"]["flags"] == [] or isinstance(records[0]["fit"]["flags"], list)
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "q3" in html and "icc.png" in html
    for png in ("icc.png", "information.png", "test_information.png"):
        assert (tmp_path / "rep" / png).read_bytes()[:4] == b"\x89PNG"
    captured = capsys.readouterr()
    assert "EM cycle" in captured.err  # progress on stderr
    assert "calibrated 5 items" in captured.out


def test_no_priors_3pl_matches_mirt_and_a_float_0_keeps_the_prior_on_c(tmp_path, wide_csv,
                                                                        published):
    """--no-priors is plain ML: LSAT7's 3PL as mirt's reference test (no prior on g) to two
    decimals (measured: b within 0.007, item 2's g 0.2978 against 0.2951).  --a-float 0 drops
    only the prior on a: the Beta(5, 17) prior on c stays and keeps every c above 0.1, where
    plain ML puts four of the five at 0."""
    ref = published["mirt_test_LSAT7_3pl"]
    out = tmp_path / "ml.json"
    assert main(["calibrate", "--responses", str(wide_csv), "--model", "3pl", "--no-priors",
                 "--out", str(out), "--quiet"]) == 0
    records = json.loads(out.read_text())
    np.testing.assert_allclose([r["b"] for r in records], ref["b"], atol=0.01)
    assert records[1]["c"] == pytest.approx(ref["g_item2"], abs=0.01)
    assert sum(r["c"] == 0 for r in records) == 4
    out = tmp_path / "c_prior.json"
    assert main(["calibrate", "--responses", str(wide_csv), "--model", "3pl", "--a-float", "0",
                 "--out", str(out), "--quiet"]) == 0
    assert min(r["c"] for r in json.loads(out.read_text())) > 0.1


def test_long_csv_with_missing_answers_and_anchors(tmp_path):
    rng = np.random.default_rng(8)
    a, b, c = random_items(40, rng)
    data = simulate_responses(a, b, c, rng.normal(size=1500), rng, answers_per_person=15)
    matrix = data.to_matrix()
    rows, cols = np.nonzero(~np.isnan(matrix))
    lines = ["person,item,response"] + [
        f"{data.person_ids[i]},{data.item_ids[j]},{int(matrix[i, j])}"
        for i, j in zip(rows, cols, strict=True)
    ]
    responses = tmp_path / "long.csv"
    responses.write_text("\n".join(lines) + "\n")
    assert read_responses(responses).n_answers == 1500 * 15
    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps([{"id": f"item{k + 1}", "a": a[k], "b": b[k], "c": 0.0}
                                for k in range(25)]))
    out = tmp_path / "p.json"
    assert main(["calibrate", "--responses", str(responses), "--model", "2pl", "--anchors",
                 str(bank), "--out", str(out), "--quiet"]) == 0
    records = {r["id"]: r for r in json.loads(out.read_text())}
    assert sum(r["anchor"] for r in records.values()) >= 24
    assert records["item40"]["anchor"] is False and records["item40"]["se_b"] > 0


def test_girth_engine_on_complete_data(tmp_path, wide_csv):
    out = tmp_path / "g.json"
    assert main(["calibrate", "--responses", str(wide_csv), "--model", "2pl", "--engine",
                 "girth", "--out", str(out), "--quiet"]) == 0
    assert len(json.loads(out.read_text())) == 5


def test_constant_item_is_reported_and_left_out(tmp_path, capsys):
    m = lsat("LSAT6").to_matrix()
    m[:, 4] = 0
    path = tmp_path / "c.csv"
    write_wide(path, m)
    out = tmp_path / "p.json"
    assert main(["calibrate", "--responses", str(path), "--model", "1pl", "--out", str(out)]) == 0
    assert [r["id"] for r in json.loads(out.read_text())] == ["q1", "q2", "q3", "q4"]
    assert "left out item q5: all 1000 answers were wrong" in capsys.readouterr().err


BAD = {
    "response not 0/1": ("person,item,response\np1,i1,1\np1,i2,2\n", [], "response '2'"),
    "wide response not 0/1": ("i1,i2\n1,0\n0,yes\n", [], "response 'yes'"),
    "empty file": ("", [], "empty"),
    "header only": ("person,item,response\n", [], "no responses"),
    "duplicate answer": ("person,item,response\np1,i1,1\np1,i1,0\n", [], "more than once"),
    "unknown model": ("i1,i2\n1,0\n0,1\n", ["--model", "4pl"], "unknown model '4pl'"),
    "unknown engine": ("i1,i2\n1,0\n0,1\n", ["--engine", "bilog"], "unknown engine 'bilog'"),
    "girth 3pl on numpy 2": ("i1,i2,i3\n1,0,1\n0,1,1\n1,1,0\n0,0,1\n",
                             ["--model", "3pl", "--engine", "girth"], "threepl_mml"),
    "girth with missing data": ("i1,i2\n1,\n0,1\n1,0\n", ["--engine", "girth"], "complete data"),
    "all items constant": ("i1,i2\n1,0\n1,0\n", [], "answered the same way"),
    "negative --a-float": ("i1,i2\n1,0\n0,1\n", ["--a-float", "-1"], "--a-float"),
    "--no-priors with --a-float": ("i1,i2\n1,0\n0,1\n", ["--no-priors", "--a-float", "0"],
                                   "--no-priors means no prior at all: leave out --a-float"),
    "--no-priors with --c-prior": ("i1,i2\n1,0\n0,1\n",
                                   ["--model", "3pl", "--no-priors", "--c-prior", "5,17"],
                                   "leave out --c-prior"),
    "--a-prior with --a-float": ("i1,i2\n1,0\n0,1\n", ["--a-prior", "0,0.5", "--a-float", "0.5"],
                                 "give --a-prior or --a-float, not both"),
    "--c-prior below the 3PL": ("i1,i2\n1,0\n0,1\n", ["--c-prior", "5,17"],
                                "--c-prior applies to the 3PL only"),
    "--a-float on the rasch model": ("i1,i2\n1,0\n0,1\n", ["--model", "rasch", "--a-float", "1"],
                                     "--a-float applies to the 2PL and 3PL only"),
    "girth with --no-priors": ("i1,i2\n1,0\n0,1\n", ["--engine", "girth", "--no-priors"],
                               "--engine girth takes no prior options"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_error_exit_2_nothing_written(tmp_path, capsys, case):
    text, extra, message = BAD[case]
    if case == "girth 3pl on numpy 2" and int(np.__version__.split(".")[0]) < 2:
        pytest.skip("girth's 3PL works on numpy 1")
    path = tmp_path / "r.csv"
    path.write_text(text)
    args = ["calibrate", "--responses", str(path), "--out", str(tmp_path / "out" / "p.json"),
            "--report", str(tmp_path / "rep")]
    if "--model" not in extra:
        args += ["--model", "2pl"]
    code = main(args + extra)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("smartcat: error:") and message in err[-1]
    assert all(line.startswith(("read ", "  EM", "smartcat: error")) for line in err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "rep").exists()


def test_missing_responses_file_exit_2(tmp_path):
    assert main(["calibrate", "--responses", str(tmp_path / "nope.csv"), "--model", "2pl",
                 "--out", str(tmp_path / "p.json")]) == 2
    assert not (tmp_path / "p.json").exists()
