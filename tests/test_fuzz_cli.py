"""Fuzzing the command line and the importers behind it (issue 13): whatever the arguments and
whatever a CSV or recording holds, `dowel` either works (exit 0) or prints exactly one line on
stderr and exits 2. Never a traceback, never a hang, never a file replaced.

The CLI runs in-process (main(argv)), so hypothesis can try hundreds of argument lists; the
commands that would start the screen or the simulator are reduced to their argument checks.
"""

import contextlib
import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dowel_protocol as P
from smart_dowel import cli
from smart_dowel.recording import MAGIC
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A data directory with two sessions, and files of every kind to name as --out or input."""
    root = tmp_path_factory.mktemp("fuzz")
    data = root / "data"
    old = os.environ.get("DOWEL_DATA_DIR")
    os.environ["DOWEL_DATA_DIR"] = str(data)
    with Store.open() as store:
        syn.store_session(store, "Ann", 12.0)
        syn.store_session(store, "Zoë", 8.0, seed=2)
    existing = root / "existing.txt"
    existing.write_text("keep me\n")
    (root / "adir").mkdir()
    (root / "link").symlink_to(existing)
    os.mkfifo(root / "fifo")
    good = root / "good.csv"
    good.write_text("t,ax,ay,az\n" + "".join("%.2f,0,0,1\n" % (i / 100) for i in range(300)))
    rec = root / "r.rec"
    rec.write_bytes(MAGIC + b'{"format": 1}\n' + b"".join(
        P.pack(P.SAMPLE, i, (i * 10000, 100, 200, 300, 0, 0, 1000, 0, 0, 0, 0))
        for i in range(200)))
    yield root
    if old is None:
        os.environ.pop("DOWEL_DATA_DIR", None)
    else:
        os.environ["DOWEL_DATA_DIR"] = old


def run(argv, monkeypatch=None):
    """(exit code, stdout, stderr) of main(argv), in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as e:  # argparse: --help (0) or a usage error (2)
            code = e.code
    return code, out.getvalue(), err.getvalue()


def check(argv, code, err):
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)


@pytest.fixture
def reduced(monkeypatch):
    """The screen and the simulator stop after their argument checks."""
    monkeypatch.setitem(cli.COMMANDS, "simulate", "smart_dowel.sim.cli:check_args")
    monkeypatch.setitem(cli.COMMANDS, "demo", "smart_dowel.tui.launch:_resolve_patient")
    monkeypatch.setitem(cli.COMMANDS, "ui", "smart_dowel.tui.launch:_resolve_patient")
    monkeypatch.setitem(cli.COMMANDS, "flash", "smart_dowel.analyze:_input_lines")


numbers = st.one_of(
    st.integers(-10, 5).map(str), st.integers().map(str),
    st.sampled_from(["1", "2", "0", "-1", "99999999999999999999", "9223372036854775807",
                     "9223372036854775808", "nan", "inf", "-inf", "1e309", "0x10", "", " ",
                     "1.5", "１", "٣", "1_0", "-0"]),
    st.floats().map(repr),
)
text = st.text(max_size=30)
names = st.one_of(text, st.sampled_from(["Ann", "ZOË", "Zoe\u0308", "evil\u202eman", "a\x00b",
                                         "\u200d", "  ", "x" * 500, "患者 👩‍⚕️"]))
units = st.one_of(text, st.sampled_from(["g", "m/s^2", "ms", "m/s2,ms", "g,g", "g,m/s^2",
                                         "rad/s", ",", "furlongs", "us,mg,deg/s"]))


def out_path(root):
    return st.sampled_from([str(root / p) for p in ("existing.txt", "adir", "link", "fifo",
                                                    "new.html", "no/such/dir/x")]
                           + ["/dev/null", "/dev/full", "", "/"])


def commands(root):
    sid = numbers
    opt = st.booleans()
    files = st.sampled_from([str(root / p) for p in ("good.csv", "r.rec", "existing.txt", "adir",
                                                     "link", "missing.csv")]
                            + ["/dev/null", "session:1", "session:", "session:-1",
                               "session:99999999999999999999999", "session:１"])

    def flags(*pairs):
        return st.lists(st.sampled_from(pairs), max_size=4).map(
            lambda xs: [t for x in xs for t in x])

    return st.one_of(
        st.tuples(st.just(["analyze"]), files.map(lambda f: [f]),
                  st.lists(st.one_of(st.just(["--json"]), units.map(lambda u: ["--units", u]),
                                     st.just(["--timeout", "0.2"])), max_size=3)
                  .map(lambda xs: [t for x in xs for t in x])),
        st.tuples(st.just(["sessions", "list"]),
                  st.lists(st.one_of(st.just(["--json"]), names.map(lambda n: ["--patient", n]),
                                     numbers.map(lambda n: ["--patient-id", n])), max_size=2)
                  .map(lambda xs: [t for x in xs for t in x])),
        st.tuples(st.just(["sessions", "show"]), sid.map(lambda s: [s])),
        st.tuples(st.just(["sessions", "export"]), sid.map(lambda s: [s]),
                  st.sampled_from([["--format", "csv"], ["--format", "json"], ["--format", "x"], []]),
                  st.one_of(st.just([]), out_path(root).map(lambda p: ["--out", p])),
                  opt.map(lambda f: ["--force"] if f else [])),
        st.tuples(st.just(["report"]), sid.map(lambda s: [s]),
                  out_path(root).map(lambda p: ["--out", p]),
                  opt.map(lambda f: ["--force"] if f else [])),
        st.tuples(st.just(["simulate"]),
                  st.lists(st.one_of(numbers.map(lambda n: ["--reps", n]),
                                     numbers.map(lambda n: ["--speed", n]),
                                     numbers.map(lambda n: ["--rate", n]),
                                     numbers.map(lambda n: ["--seed", n]),
                                     out_path(root).map(lambda p: ["--truth", p]),
                                     st.sampled_from([["--scenario", "good"], ["--scenario", "x"],
                                                      ["--runtime", "cpython"]])), max_size=3)
                  .map(lambda xs: [t for x in xs for t in x])),
        st.tuples(st.sampled_from([["ui"], ["demo"]]),
                  st.lists(st.one_of(numbers.map(lambda n: ["--replay", n]),
                                     numbers.map(lambda n: ["--speed", n]),
                                     numbers.map(lambda n: ["--patient-id", n]),
                                     names.map(lambda n: ["--patient", n])), max_size=2)
                  .map(lambda xs: [t for x in xs for t in x])),
        st.tuples(st.just(["record", "--port", "/nonexistent/port"]),
                  st.lists(st.one_of(numbers.map(lambda n: ["--duration", n]),
                                     numbers.map(lambda n: ["--patient-id", n]),
                                     names.map(lambda n: ["--patient", n]),
                                     out_path(root).map(lambda p: ["--out", p])), max_size=2)
                  .map(lambda xs: [t for x in xs for t in x])),
        st.lists(text, max_size=4).map(lambda xs: (xs,)),
    ).map(lambda parts: [t for part in parts for t in part])


@given(data=st.data())
@FUZZ
def test_any_arguments_give_a_result_or_one_line_and_exit_2(world, reduced, data, monkeypatch):
    monkeypatch.chdir(world / "adir")  # whatever a relative path names lands in the sandbox
    argv = data.draw(commands(world))
    code, _out, err = run(argv)
    check(argv, code, err)
    assert (world / "existing.txt").read_text() == "keep me\n" or "--force" in argv
    assert (world / "link").is_symlink()
    (world / "existing.txt").write_text("keep me\n")


HEADERS = st.sampled_from([
    "t,ax,ay,az", "t,ax,ay,az,gx,gy,gz,head,midback,tailbone", "t [ms],ax [m/s^2],ay,az",
    "t_s;ax_g;ay_g;az_g", "t\tax\tay\taz", "T,AX,AY,AZ,note", "t,ax,ay,az [kg]", "t,ax,ax,az",
    "t,ax,ay", '"t","ax","ay","az"', "t,ax,ay,az,gx", "",
])
cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-20, 20).map(lambda x: "%.3f" % x),
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.sampled_from(["", "nan", "x", "1e999", "--1", " ", '"3"', '"1', "1,2", "9.81", "0.01"]),
)


@given(HEADERS, st.lists(st.lists(cell, min_size=0, max_size=11), max_size=60), st.booleans(),
       st.sampled_from(["\n", "\r\n", "\r"]))
@FUZZ
def test_any_csv_through_dowel_analyze(tmp_path, header, rows, regular_time, newline):
    delim = ";" if ";" in header else "\t" if "\t" in header else ","
    if regular_time:  # a plausible time column, so the rest of the row is what gets tested
        rows = [["%.3f" % (i / 100)] + r[1:] for i, r in enumerate(rows)]
    text = header + newline + "".join(delim.join(r) + newline for r in rows)
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    argv = ["analyze", str(path), "--json"]
    code, out, err = run(argv)
    check(argv, code, err)
    if code == 0:
        assert json.loads(out)["rep_count"] >= 0


@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.floats(), st.integers(),
                                        st.text(max_size=5)),
                              lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                     st.dictionaries(st.text(max_size=8), kids,
                                                                     max_size=3)),
                              max_leaves=12)
                 .map(lambda cal: json.dumps({"format": 1, "calibration": cal}).encode() + b"\n")),
       st.binary(max_size=400), st.integers(0, 40))
@FUZZ
def test_any_recording_through_dowel_analyze(tmp_path, header, body, n):
    frames = b"".join(P.pack(P.SAMPLE, i, (i * 10000, 100, 200, 300, 0, 0, 1000, 0, 0, 0, 0))
                      for i in range(n))
    path = tmp_path / "r.rec"
    path.write_bytes(MAGIC + header + frames + body + frames)
    argv = ["analyze", str(path)]
    code, _out, err = run(argv)
    check(argv, code, err)


@given(st.dictionaries(st.sampled_from(["head", "midback", "tailbone", "other"]),
                       st.dictionaries(st.sampled_from(["zero_counts", "scale"]),
                                       st.one_of(st.floats(), st.integers(), st.text(max_size=3),
                                                 st.none(), st.booleans())), max_size=3),
       st.one_of(st.none(), st.lists(st.floats(), max_size=4)),
       st.one_of(st.none(), st.lists(st.floats(), max_size=4)))
@FUZZ
def test_any_calibration_values(tmp_path, sensors, upright, bias):
    cal = {"sensors": sensors, "upright": upright, "gyro_bias_dps": bias}
    frames = b"".join(P.pack(P.SAMPLE, i, (i * 10000, 100, 200, 300, 0, 0, 1000, 0, 0, 0, 0))
                      for i in range(50))
    path = tmp_path / "c.rec"
    path.write_bytes(MAGIC + json.dumps({"format": 1, "calibration": cal}).encode() + b"\n" + frames)
    argv = ["analyze", str(path), "--json"]
    code, out, err = run(argv)
    check(argv, code, err)
