"""The ``round`` command end to end (`build.py round`, statpress.adhoc)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import build
from statpress.adhoc import model_matrix
from statpress.errors import BuildError


def run(argv: list[str]) -> int:
    """`build.py round ARGV`'s exit status: 1 for bad input, 2 for a usage error (argparse's)."""
    try:
        return build.main(["round", *argv])
    except SystemExit as exc:
        return exc.code


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def micro(tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for mun, n in [("0301", 40), ("3001", 7), ("3002", 2), ("5001", 30), ("5006", 1)]:
        for _ in range(n):
            rows.append((mun, rng.choice(["M", "F"]), rng.choice(["0-19", "20-66", "67+"])))
    frame = pd.DataFrame(rows, columns=["mun", "sex", "age"])
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    hier = _write(tmp_path / "mun.csv", "child,parent\n0301,03\n3001,30\n3002,30\n5001,50\n5006,50\n")
    return str(path), hier, frame


def _summary(out):
    return dict(line.split(": ", 1) for line in out.strip().splitlines())


def test_microdata_with_hierarchy(micro, tmp_path, capsys):
    path, hier, frame = micro
    out = tmp_path / "out.csv"
    code = run([path, "--table", "mun,sex", "--table", "age", "--hierarchy", f"mun={hier}", "--out", str(out)])
    assert code == 0
    result = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(result.columns) == ["mun", "sex", "age", "original", "rounded"]
    orig = result["original"].astype(int)
    rounded = result["rounded"].astype(int)
    # grand total appears once (shared by both tables) and equals the number of units
    grand = result[(result.mun == "Total") & (result.sex == "Total") & (result.age == "Total")]
    assert len(grand) == 1 and int(grand.original.iloc[0]) == len(frame)
    # county subtotals published; no duplicate rows
    assert {"03", "30", "50"} <= set(result.mun)
    assert not result.duplicated(["mun", "sex", "age"]).any()
    # the age table is summed over mun and sex
    assert set(result[result.age != "Total"].mun) == {"Total"}
    # protected: no rounded cell in 1..2, all multiples of 3 unless large
    assert not ((rounded >= 1) & (rounded <= 2)).any()
    county30 = result[(result.mun == "30") & (result.sex == "Total") & (result.age == "Total")]
    assert int(county30.original.iloc[0]) == 9
    # municipality 5006 has one person: published rounded to 0 or 3
    m = result[(result.mun == "5006") & (result.sex == "Total")]
    assert int(m.original.iloc[0]) == 1 and int(m.rounded.iloc[0]) in (0, 3)
    # additivity in the output: county = sum of its municipalities
    tot = result[(result.sex == "Total") & (result.age == "Total")].set_index("mun")["rounded"].astype(int)
    assert tot["30"] == tot["3001"] + tot["3002"] and tot["Total"] == tot["03"] + tot["30"] + tot["50"]
    s = _summary(capsys.readouterr().out)
    assert int(s["cells"]) == len(result)
    assert int(s["grand total before"]) == len(frame)
    assert abs(int(s["grand total after"]) - len(frame)) < 3
    assert int(s["max absolute change"]) == int((rounded - orig).abs().max())
    assert float(s["rmse"]) == pytest.approx(np.sqrt(np.mean((rounded - orig) ** 2)), abs=1e-3)
    assert {"candidates", "cells changed", "seconds"} <= set(s)


def test_freq_input_matches_microdata(micro, tmp_path, capsys):
    path, hier, frame = micro
    freq = frame.value_counts().rename("count").reset_index()
    fpath = tmp_path / "freq.csv"
    freq.to_csv(fpath, index=False)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run([path, "--table", "mun,sex,age", "--seed", "5", "--out", str(a)]) == 0
    assert run([str(fpath), "--freq", "count", "--table", "mun,sex,age", "--seed", "5", "--out", str(b)]) == 0
    ra, rb = pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str)
    pd.testing.assert_frame_equal(ra, rb)
    assert "Total" in set(ra.sex) and "Total" in set(ra.age)
    # all 2^3 margins of the crossing are present
    patterns = {tuple(v == "Total" for v in row) for row in ra[["mun", "sex", "age"]].itertuples(index=False)}
    assert len(patterns) == 8


def test_base_and_max_round_options(micro, tmp_path, capsys):
    path, _, _ = micro
    out = tmp_path / "o.csv"
    assert run([path, "--table", "mun,sex", "--base", "5", "--max-round", "7", "--out", str(out)]) == 0
    r = pd.read_csv(out)
    small = (r.rounded >= 1) & (r.rounded <= 6) & (r.rounded % 5 != 0)
    assert not small.any()


def test_model_matrix_shapes():
    frame = pd.DataFrame({"a": ["x", "y", "y"], "b": ["1", "1", "2"], "n": [1, 2, 3]})
    model, cells = model_matrix(frame, [["a", "b"]], {}, freq="n")
    X, y = model.x, model.y
    assert len(cells) == 3 * 3 - 1  # a∈{x,y,T} × b∈{1,2,T}, (x,2) absent
    # (x,Total) is the same cell as (x,1), and (Total,2) as (y,2): the model holds each once
    assert X.shape == (3, len(cells) - 2)
    assert list(y) == [1, 2, 3]
    assert list(cells.columns) == ["a", "b"]
    total = cells.index[(cells.a == "Total") & (cells.b == "Total")][0]
    assert model.published[total] == 6
    same = cells.index[(cells.a == "x") & (cells.b == "Total")][0], cells.index[(cells.a == "x") & (cells.b == "1")][0]
    assert model.cell_column[same[0]] == model.cell_column[same[1]]


def _err(capsys):
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "content, args, expected",
    [
        ("mun,sex\n1,M\n", ["--table", "mun,age"], "column 'age' not found"),
        ("mun,count\n1,2\n2,x\n", ["--freq", "count", "--table", "mun"], "column 'count' line 3: expected a non-negative integer count, got 'x'"),
        ("mun,count\n1,2\n2,-1\n", ["--freq", "count", "--table", "mun"], "column 'count' line 3"),
        ("mun,count\n1,2.5\n", ["--freq", "count", "--table", "mun"], "line 2: expected a non-negative integer"),
        ("mun,count\n1,2\n", ["--freq", "n", "--table", "mun"], "column 'n' not found"),
        ("mun,sex\nTotal,M\n", ["--table", "mun,sex"], "reserved"),
        ("mun,sex\n1,M\n", ["--table", "mun,,sex"], "expected dimension columns"),
        ("mun,sex\n1,M\n", ["--table", "mun", "--base", "1"], "--base 1"),
    ],
)
def test_bad_input(tmp_path, capsys, content, args, expected):
    path = _write(tmp_path / "in.csv", content)
    code = run([path, *args, "--out", str(tmp_path / "o.csv")])
    err = _err(capsys)
    assert code == 1
    assert err.startswith("error: ")
    assert expected in err
    if "line" in expected or "not found" in expected:
        assert "in.csv" in err


def test_hierarchy_errors(tmp_path, capsys):
    data = _write(tmp_path / "in.csv", "mun\n1\n2\n3\n")
    cases = [
        ("child,parent\n1,A\n2,A\n", "unknown child '3'"),
        ("child,parent\n1,A\n2,A\n3,B\nA,B\nB,A\n", "cycle"),
        ("child,parent\n1,A\n1,B\n2,A\n3,A\n", "two parents"),
        ("kid,parent\n1,A\n", "lacks column 'child'"),
        ("child,parent\n1,1\n2,A\n3,A\n", "cycle"),
    ]
    for i, (text, expected) in enumerate(cases):
        h = _write(tmp_path / f"h{i}.csv", text)
        code = run([data, "--table", "mun", "--hierarchy", f"mun={h}", "--out", str(tmp_path / "o.csv")])
        err = _err(capsys)
        assert code == 1, text
        assert expected in err, (expected, err)
        assert ("h%d.csv" % i in err) or ("in.csv" in err)
    code = run([data, "--table", "mun", "--hierarchy", "sex=x.csv", "--out", str(tmp_path / "o.csv")])
    assert code == 1 and "x.csv: file not found" in _err(capsys)
    h = _write(tmp_path / "ok.csv", "child,parent\n1,A\n")
    code = run([data, "--table", "mun", "--hierarchy", f"sex={h}", "--out", str(tmp_path / "o.csv")])
    assert code == 1 and "not a dimension of any table" in _err(capsys)


def test_missing_input_file_and_usage(tmp_path, capsys):
    assert run([str(tmp_path / "nope.csv"), "--table", "a", "--out", str(tmp_path / "o.csv")]) == 1
    assert "nope.csv: file not found" in _err(capsys)
    assert run([str(tmp_path / "nope.csv")]) == 2  # argparse: --table and --out required
    assert "build.py round" in _err(capsys)


def test_model_matrix_raises_build_error():
    frame = pd.DataFrame({"a": ["x"], "n": [1]})
    with pytest.raises(BuildError, match="data.csv: column 'b' not found"):
        model_matrix(frame, [["a", "b"]], {}, freq="n", source="data.csv")
