"""A bug of ours reaches the user as one line (what failed, and how to see where), never as a
traceback; DOWEL_DEBUG=1 shows the traceback for the report."""

import pytest

from smart_dowel import analyze, cli


def _broken(args):
    raise TypeError("unsupported operand type(s) for -: 'float' and 'NoneType'")


def test_an_internal_error_is_one_line_and_exit_70(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DOWEL_DEBUG", raising=False)
    monkeypatch.setattr(analyze, cli.COMMANDS["analyze"].split(":")[1], _broken)
    f = tmp_path / "x.csv"
    f.write_text("t,ax,ay,az\n0,0,0,1\n")
    assert cli.main(["analyze", str(f)]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("dowel analyze: internal error: TypeError: unsupported operand")
    assert "DOWEL_DEBUG=1" in err


def test_dowel_debug_shows_the_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("DOWEL_DEBUG", "1")
    monkeypatch.setattr(analyze, cli.COMMANDS["analyze"].split(":")[1], _broken)
    f = tmp_path / "x.csv"
    f.write_text("t,ax,ay,az\n0,0,0,1\n")
    with pytest.raises(TypeError):
        cli.main(["analyze", str(f)])
