"""`dowel report ID --out FILE.html`: a self-contained, printable report, checked as HTML and
rendered to PNG by headless Chromium (CI installs the `chromium` package)."""

import re
import shutil
import struct
import subprocess
import tempfile

import pytest
from store_helpers import data_dir, dowel, mode  # noqa: F401

from smart_dowel import report
from smart_dowel.store import Store
from smart_dowel.store import synthetic as syn

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def history(data_dir):
    """Three sessions of one patient (the last has a tailbone fault) and one of another."""
    with Store.open() as store:
        syn.store_session(store, "Jane <script>alert(1)</script> Doe", 25.0, depth_deg=40.0, seed=1)
        syn.store_session(store, "Someone Else", 20.0, seed=2)
        syn.store_session(store, "Jane <script>alert(1)</script> Doe", 30.0, depth_deg=50.0,
                          tailbone_lost_reps=(0, 2), seed=3)
        sid = syn.store_session(store, "Jane <script>alert(1)</script> Doe", 45.0,
                                depth_deg=[60.0, 62.0, 58.0], tailbone_lost_reps=(2,), seed=4)
    return sid


def test_report_shows_patient_sets_reps_faults_and_progress(history):
    with Store.open() as store:
        html = report.build(store, history)
    # the patient's name is text, never markup
    assert "<script" not in html
    assert "Jane &lt;script&gt;alert(1)&lt;/script&gt; Doe" in html
    assert "<h2>Sets</h2>" in html and "Set 1" in html
    rows = re.findall(r"<tr[^>]*><td>Set 1, rep (\d+)</td>", html)
    assert rows == [str(i) for i in range(1, 9)]
    assert html.count('class="faulty"') == 1
    assert "Tailbone contact lost" in html and "Hips back: keep the stick touching your tailbone." in html
    # plots: angle trace with one shaded span per rep, the contact lanes, three progress charts
    assert html.count("<svg") == 4
    assert len(re.findall(r'class="rep( faulty)?"', html)) == 8
    assert len(re.findall(r'class="rep faulty"', html)) == 1
    assert len(re.findall(r'class="lost"', html)) == 1
    assert re.search(r'<path d="M[^"]{200,}" class="hinge"/>', html)
    assert all(lbl in html for lbl in (">Head<", ">Mid-back<", ">Tailbone<", ">Hinge<"))
    # progress against the two earlier sessions of this patient, not the other patient's
    assert "#1" in html and "#3" in html and "(this one)" in html and "#2 " not in html
    assert html.count("<tr><td>#") + html.count('<tr style="font-weight:600"><td>#') == 3


def test_report_is_self_contained(history):
    with Store.open() as store:
        html = report.build(store, history)
    for forbidden in ("<script", "src=", "href=", "url(", "@import", "<link", "<iframe"):
        assert forbidden not in html.lower()
    assert re.findall(r"https?://[^\s\"']+", html) == ["http://www.w3.org/2000/svg"] * 4


def test_report_command_writes_a_private_file(history, tmp_path):
    out = tmp_path / "report.html"
    r = dowel("report", history, "--out", out)
    assert r.returncode == 0, r.stderr
    assert mode(out) == 0o600 and out.read_text().startswith("<!DOCTYPE html>")
    r = dowel("report", "99", "--out", tmp_path / "none.html")
    assert r.returncode == 2 and "no session 99" in r.stderr
    assert not (tmp_path / "none.html").exists()


def test_report_of_a_session_with_a_gap_and_no_sets(data_dir):
    from test_store_db import sample_msgs

    from smart_dowel.link.types import Gap

    with Store.open() as store:
        s = store.start_session("Gap Patient", None, flush_interval_s=0)
        s.add_samples(sample_msgs(300))
        s.add_gap(Gap("/dev/ttyACM0", 0.0, 4.0, 400, False, "unplugged"))
        s.add_samples(sample_msgs(300, seq0=700, t0_us=7_000_000))
        s.close()
        html = report.build(store, s.id)
    assert "No sets were marked" in html and "No reps were counted" in html
    assert "dropped 1 time(s): at 0:03 for 4.0 s, 400 samples lost" in html
    assert 'class="gap"' in html and "first stored session for Gap Patient" in html


def test_report_of_an_empty_session(data_dir):
    with Store.open() as store:
        s = store.start_session("Empty", None, flush_interval_s=0)
        s.close()
        html = report.build(store, s.id)
    assert "This session holds no samples." in html


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def chromium_screenshot(url, png, size="1200,2400"):
    profile = tempfile.mkdtemp(prefix="dowel-chromium-")
    try:
        subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--user-data-dir=" + profile, "--screenshot=" + str(png),
             "--window-size=" + size, url],
            capture_output=True, text=True, timeout=120, check=True,
        )
    finally:
        shutil.rmtree(profile)


def test_report_renders_in_headless_chromium(history, tmp_path):
    out = tmp_path / "report.html"
    assert dowel("report", history, "--out", out).returncode == 0
    png = tmp_path / "report.png"
    chromium_screenshot(out.as_uri(), png)
    blank_html = tmp_path / "blank.html"
    blank_html.write_text("<!DOCTYPE html><html><body></body></html>")
    blank = tmp_path / "blank.png"
    chromium_screenshot(blank_html.as_uri(), blank)
    assert png_size(png) == (1200, 2400)
    # a page of tables and plots compresses far worse than an empty one
    assert png.stat().st_size > 60_000
    assert png.stat().st_size > 10 * blank.stat().st_size


def test_a_long_set_is_plotted_in_five_minute_parts():
    import numpy as np

    session = {"duration_s": 3600.0, "reps": [],
               "sets": [{"number": 1, "start_s": 0.0, "end_s": 3600.0, "target_depth_deg": 45.0}]}
    windows = report._windows(session, np.array([0.0, 3600.0]))
    assert len(windows) == 12
    assert windows[0][0] == "Set 1, 0:00 to 5:00" and windows[-1][2] == 3600.0
