"""hardware_docs/ states the same pins and constants as the firmware and the host.

The firmware's pins live in device/dowel_device/config.py, the force model in
host/smart_dowel/fsr.py. Both are read with `ast` (config.py imports MicroPython's `const`), and
every check below is a function that returns a list of mismatches, so the last tests can prove
that a changed pin in config.py is caught.
"""

from __future__ import annotations

import ast
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "hardware_docs"
CONFIG_PY = REPO / "device" / "dowel_device" / "config.py"
FSR_PY = REPO / "host" / "smart_dowel" / "fsr.py"
SVG_NS = "{http://www.w3.org/2000/svg}"

# GPIO -> physical pin of the Raspberry Pi Pico (a fact of the board, from its datasheet)
PICO_PIN = {
    0: 1, 1: 2, 2: 4, 3: 5, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12, 10: 14, 11: 15, 12: 16,
    13: 17, 14: 19, 15: 20, 16: 21, 17: 22, 18: 24, 19: 25, 20: 26, 21: 27, 22: 29, 26: 31,
    27: 32, 28: 34,
}
PIN_3V3_OUT = 36
PIN_AGND = 33
# GPIOs that can carry each I2C block's SDA and SCL on the RP2040
I2C_SDA_GPIOS = {0: {0, 4, 8, 12, 16, 20}, 1: {2, 6, 10, 14, 18, 26}}
I2C_SCL_GPIOS = {0: {1, 5, 9, 13, 17, 21}, 1: {3, 7, 11, 15, 19, 27}}
ADC_VOLTS = 3.3  # the Pico's ADC reference, used for the volts columns of wiring.md

# contact point -> (config name, word that starts its row in the pin table, SVG group id)
FSR_CHANNELS = (
    ("head", "FSR_HEAD_GPIO", "Head FSR", "net-fsr-head"),
    ("midback", "FSR_MIDBACK_GPIO", "Mid-back FSR", "net-fsr-midback"),
    ("tailbone", "FSR_TAILBONE_GPIO", "Tailbone FSR", "net-fsr-tailbone"),
)
PIN_CONSTANTS = (
    "FSR_HEAD_GPIO", "FSR_MIDBACK_GPIO", "FSR_TAILBONE_GPIO", "FSR_DIVIDER_OHMS",
    "I2C_ID", "I2C_SDA_GPIO", "I2C_SCL_GPIO", "I2C_FREQ_HZ",
)
MODEL_CONSTANTS = ("DIVIDER_OHMS", "FSR_OHMS_AT_1N", "FSR_ALPHA", "ADC_FULL_SCALE")


# --------------------------------------------------------------------------- reading sources


def _eval(node, env):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "const":
        return _eval(node.args[0], env)
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    raise ValueError("not a constant")


def constants(source):
    """Name -> value of every assignment of a number, const(number) or tuple of those."""
    env = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    env[t.id] = _eval(value, env)
                except (ValueError, IndexError):
                    pass
    return env


def config_constants(source=None):
    return constants(CONFIG_PY.read_text() if source is None else source)


def fsr_constants():
    return constants(FSR_PY.read_text())


def doc(name):
    return (DOCS / name).read_text(encoding="utf-8")


def md_table(text, first_header):
    """Rows (lists of cell strings) of the markdown table whose first header cell is given."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return cells, rows
    return None, []


def kilo_ohms(ohms):
    return "%g kΩ" % (ohms / 1000)


# --------------------------------------------------------------------------- the checks


def check_pin_table(cfg, wiring):
    """The pin table of wiring.md against config.py and the Pico's pinout."""
    out = []
    header, rows = md_table(wiring, "signal")
    if not rows:
        return ["wiring.md: no pin table (a table whose first column is 'signal')"]

    def row_for(prefix):
        found = [r for r in rows if r[0].startswith(prefix)]
        if len(found) != 1:
            out.append("wiring.md pin table: %d rows start with %r, expected 1" % (len(found), prefix))
            return None
        return found[0]

    def expect(row, gpio, what):
        if row is None:
            return
        if row[1] != "GP%d" % gpio:
            out.append("wiring.md pin table, %s: GPIO %s, config.py says GP%d" % (what, row[1], gpio))
        if row[2] != str(PICO_PIN.get(gpio)):
            out.append("wiring.md pin table, %s: Pico pin %s, GP%d is pin %s"
                       % (what, row[2], gpio, PICO_PIN.get(gpio)))

    for _key, name, prefix, _svg in FSR_CHANNELS:
        gpio = cfg[name]
        row = row_for(prefix)
        expect(row, gpio, prefix)
        if row is not None and "(ADC%d)" % (gpio - 26) not in row[0]:
            out.append("wiring.md pin table, %s: says %r, GP%d is ADC%d" % (prefix, row[0], gpio, gpio - 26))
    for prefix, name in (("IMU SDA", "I2C_SDA_GPIO"), ("IMU SCL", "I2C_SCL_GPIO")):
        row = row_for(prefix)
        expect(row, cfg[name], prefix)
        if row is not None and "(I2C%d)" % cfg["I2C_ID"] not in row[0]:
            out.append("wiring.md pin table, %s: %r, config.py uses I2C%d" % (prefix, row[0], cfg["I2C_ID"]))
    for prefix, pin in (("3V3(OUT)", PIN_3V3_OUT), ("AGND", PIN_AGND)):
        row = row_for(prefix)
        if row is not None and row[2] != str(pin):
            out.append("wiring.md pin table, %s: pin %s, the Pico has it on pin %d" % (prefix, row[2], pin))
    bus = "I2C%d at %g kHz" % (cfg["I2C_ID"], cfg["I2C_FREQ_HZ"] / 1000)
    if bus not in wiring:
        out.append("wiring.md does not say %r" % bus)
    return out


def check_reference_table(cfg, model, wiring, pipeline=None, drivers=None):
    """Every row of wiring.md's reference values against the file it names."""
    sources = {
        "device/dowel_device/config.py": cfg,
        "host/smart_dowel/fsr.py": model,
    }
    if pipeline is not None:
        sources["host/smart_dowel/pipeline/config.py"] = pipeline
    sources.update(drivers or {})
    header, rows = md_table(wiring, "constant")
    if not rows:
        return ["wiring.md: no reference table (first column 'constant')"]
    out = []
    seen = set()
    for name_cell, value_cell, where in rows:
        name = name_cell.strip("`")
        seen.add((where, name))
        if where not in sources:
            out.append("wiring.md reference table: %s names an unknown file %s" % (name, where))
            continue
        if name not in sources[where]:
            out.append("wiring.md reference table: %s is not defined in %s" % (name, where))
            continue
        stated = float(int(value_cell, 0)) if value_cell.startswith("0x") else float(value_cell)
        actual = sources[where][name]
        if not math.isclose(stated, actual, rel_tol=1e-9):
            out.append("wiring.md reference table: %s = %s, %s says %r" % (name, value_cell, where, actual))
    for name in PIN_CONSTANTS:
        if ("device/dowel_device/config.py", name) not in seen:
            out.append("wiring.md reference table: no row for config.py's %s" % name)
    for name in MODEL_CONSTANTS:
        if ("host/smart_dowel/fsr.py", name) not in seen:
            out.append("wiring.md reference table: no row for fsr.py's %s" % name)
    return out


def model_counts(model, force_n, divider_ohms):
    r_fsr = model["FSR_OHMS_AT_1N"] * force_n ** -model["FSR_ALPHA"]
    return round(divider_ohms / (divider_ohms + r_fsr) * model["ADC_FULL_SCALE"])


def check_force_table(cfg, model, wiring):
    """The divider table of wiring.md, recomputed from the fsr.py model."""
    out = []
    if cfg["FSR_DIVIDER_OHMS"] != model["DIVIDER_OHMS"]:
        out.append("config.py FSR_DIVIDER_OHMS %r != fsr.py DIVIDER_OHMS %r"
                   % (cfg["FSR_DIVIDER_OHMS"], model["DIVIDER_OHMS"]))
    header, rows = md_table(wiring, "force (N)")
    if not rows:
        return out + ["wiring.md: no force table (first column 'force (N)')"]
    ours = kilo_ohms(model["DIVIDER_OHMS"])
    if header[2] != ours + ": volts" or header[3] != ours + ": counts":
        out.append("wiring.md force table: columns %r, %r, the divider is %s" % (header[2], header[3], ours))
    other = float(header[4].split(" kΩ")[0]) * 1000
    forces = []
    for row in rows:
        f = float(row[0])
        forces.append(f)
        r_fsr = model["FSR_OHMS_AT_1N"] * f ** -model["FSR_ALPHA"]
        if abs(float(row[1]) - r_fsr) > 0.5:
            out.append("wiring.md force table, %g N: FSR %s Ω, the model gives %.0f" % (f, row[1], r_fsr))
        for col, div in ((2, model["DIVIDER_OHMS"]), (4, other)):
            counts = model_counts(model, f, div)
            volts = counts / model["ADC_FULL_SCALE"] * ADC_VOLTS
            if int(row[col + 1]) != counts:
                out.append("wiring.md force table, %g N, %s: %s counts, the model gives %d"
                           % (f, header[col + 1], row[col + 1], counts))
            if abs(float(row[col]) - volts) > 0.0005:
                out.append("wiring.md force table, %g N, %s: %s V, the model gives %.3f"
                           % (f, header[col], row[col], volts))
    if forces != [1, 5, 10, 30]:
        out.append("wiring.md force table: forces %r, expected 1, 5, 10, 30 N" % forces)
    return out


def _group_texts(group):
    return " ".join("".join(t.itertext()) for t in group.iter(SVG_NS + "text"))


def _points(group):
    """Every vertex of the polylines and paths of an SVG group."""
    pts = []
    for el in group.iter():
        if el.tag == SVG_NS + "polyline":
            nums = [float(v) for v in re.split(r"[ ,]+", el.get("points").strip())]
        elif el.tag == SVG_NS + "path":
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", el.get("d"))]
            nums = nums[:2]  # the path's start point
        else:
            continue
        pts.extend(zip(nums[0::2], nums[1::2]))
    return pts


def check_svg(cfg, svg_text):
    """wiring.svg: each net's labels name the configured GPIO and pin, and its wire starts at
    that pin's pad on the drawn Pico."""
    out = []
    root = ET.fromstring(svg_text)
    groups = {g.get("id"): g for g in root.iter(SVG_NS + "g") if g.get("id")}
    pads = {r.get("id"): r for r in root.iter(SVG_NS + "rect") if (r.get("id") or "").startswith("pico-pin-")}

    def touches_pad(gid, pin):
        pad = pads.get("pico-pin-%d" % pin)
        if pad is None:
            out.append("wiring.svg: no pad for Pico pin %d" % pin)
            return
        cx = float(pad.get("x")) + float(pad.get("width")) / 2
        cy = float(pad.get("y")) + float(pad.get("height")) / 2
        if not any(abs(x - cx) <= 8 and abs(y - cy) <= 8 for x, y in _points(groups[gid])):
            out.append("wiring.svg: no wire of %s reaches Pico pin %d" % (gid, pin))

    def net(gid, gpio=None, adc=None, pins=()):
        if gid not in groups:
            out.append("wiring.svg: no group %s" % gid)
            return ""
        text = _group_texts(groups[gid])
        gps = {int(n) for n in re.findall(r"\bGP(\d+)\b", text)}
        if gpio is not None and gps != {gpio}:
            out.append("wiring.svg %s: labels GP%s, config.py says GP%d" % (gid, sorted(gps), gpio))
        adcs = {int(n) for n in re.findall(r"\bADC(\d)\b", text)}
        if adc is not None and adcs != {adc}:
            out.append("wiring.svg %s: labels ADC%s, expected ADC%d" % (gid, sorted(adcs), adc))
        labelled = {int(n) for n in re.findall(r"\bpin (\d+)", text)}
        if set(pins) != labelled:
            out.append("wiring.svg %s: labels pins %s, expected %s" % (gid, sorted(labelled), sorted(pins)))
        for pin in pins:
            touches_pad(gid, pin)
        return text

    for _key, name, _prefix, gid in FSR_CHANNELS:
        gpio = cfg[name]
        text = net(gid, gpio, gpio - 26, (PICO_PIN[gpio],))
        if text and kilo_ohms(cfg["FSR_DIVIDER_OHMS"]) not in text:
            out.append("wiring.svg %s: no %s resistor label" % (gid, kilo_ohms(cfg["FSR_DIVIDER_OHMS"])))
    net("net-i2c-sda", cfg["I2C_SDA_GPIO"], None, (PICO_PIN[cfg["I2C_SDA_GPIO"]],))
    net("net-i2c-scl", cfg["I2C_SCL_GPIO"], None, (PICO_PIN[cfg["I2C_SCL_GPIO"]],))
    net("net-3v3", None, None, (PIN_3V3_OUT,))
    net("net-agnd", None, None, (PIN_AGND,))
    bus = "I2C%d at %g kHz" % (cfg["I2C_ID"], cfg["I2C_FREQ_HZ"] / 1000)
    if bus not in "".join(root.itertext()):
        out.append("wiring.svg does not say %r" % bus)
    return out


def check_prose(cfg, docs):
    """Pins and values that appear in the running text and the commands of all pages."""
    out = []
    allowed = {cfg[n] for _k, n, _p, _g in FSR_CHANNELS} | {cfg["I2C_SDA_GPIO"], cfg["I2C_SCL_GPIO"]}
    for name, text in docs.items():
        for m in re.finditer(r"\bGP(\d+)\b", text):
            if int(m.group(1)) not in allowed:
                out.append("%s mentions GP%s, which the firmware does not use" % (name, m.group(1)))
        for m in re.finditer(r"I2C\((\d+), sda=Pin\((\d+)\), scl=Pin\((\d+)\), freq=(\d+)\)", text):
            got = tuple(int(v) for v in m.groups())
            want = (cfg["I2C_ID"], cfg["I2C_SDA_GPIO"], cfg["I2C_SCL_GPIO"], cfg["I2C_FREQ_HZ"])
            if got != want:
                out.append("%s: command %r, config.py says I2C(%d, sda=Pin(%d), scl=Pin(%d), freq=%d)"
                           % ((name, m.group(0)) + want))
        for m in re.finditer(r"ADC\(Pin\(g\)\)\.read_u16\(\) for g in \(([\d, ]+)\)", text):
            got = tuple(int(v) for v in m.group(1).split(","))
            if got != tuple(cfg["FSR_GPIOS"]):
                out.append("%s: ADC command reads GPIOs %r, config.py FSR_GPIOS is %r"
                           % (name, got, cfg["FSR_GPIOS"]))
    flashing = docs["flashing.md"]
    for phrase in ("with a %g s timeout" % (cfg["WATCHDOG_TIMEOUT_MS"] / 1000),
                   "(%d Hz by default)" % cfg["DEFAULT_RATE_HZ"]):
        if phrase not in flashing:
            out.append("flashing.md does not say %r" % phrase)
    resistor_rows = [r for r in md_table(docs["bom.md"], "qty")[1] if "Resistor" in r[1]]
    want = kilo_ohms(cfg["FSR_DIVIDER_OHMS"])
    if len(resistor_rows) != 1 or want not in resistor_rows[0][1] or resistor_rows[0][0] != str(len(cfg["FSR_GPIOS"])):
        out.append("bom.md: expected one resistor row, %d x %s" % (len(cfg["FSR_GPIOS"]), want))
    return out


def all_mismatches(cfg, model=None, pipeline=None, drivers=None):
    model = fsr_constants() if model is None else model
    wiring = doc("wiring.md")
    docs = {p.name: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}
    return (
        check_pin_table(cfg, wiring)
        + check_reference_table(cfg, model, wiring, pipeline, drivers)
        + check_force_table(cfg, model, wiring)
        + check_svg(cfg, doc("wiring.svg"))
        + check_prose(cfg, docs)
    )


def _pipeline_and_drivers():
    pipeline = constants((REPO / "host" / "smart_dowel" / "pipeline" / "config.py").read_text())
    drivers = {
        "device/dowel_device/%s.py" % m: constants((REPO / "device" / "dowel_device" / (m + ".py")).read_text())
        for m in ("mpu6050", "lsm6dsox")
    }
    return pipeline, drivers


# --------------------------------------------------------------------------- tests


def test_config_is_a_consistent_pico_layout():
    """config.py's own pins are ones a Pico can do: ADC pins, and SDA/SCL of the chosen I2C."""
    cfg = config_constants()
    assert cfg["FSR_GPIOS"] == (cfg["FSR_HEAD_GPIO"], cfg["FSR_MIDBACK_GPIO"], cfg["FSR_TAILBONE_GPIO"])
    assert set(cfg["FSR_GPIOS"]) <= {26, 27, 28}
    assert cfg["I2C_SDA_GPIO"] in I2C_SDA_GPIOS[cfg["I2C_ID"]]
    assert cfg["I2C_SCL_GPIO"] in I2C_SCL_GPIOS[cfg["I2C_ID"]]


def test_fsr_model_constants_read_by_ast_match_the_module():
    """The ast reading of fsr.py gives what the imported module uses, and the table's counts
    are what newtons_to_counts returns."""
    from smart_dowel import fsr

    model = fsr_constants()
    for name in MODEL_CONSTANTS:
        assert model[name] == getattr(fsr, name)
    for f in (1, 5, 10, 30):
        assert model_counts(model, f, model["DIVIDER_OHMS"]) == fsr.newtons_to_counts(f)


def test_docs_match_firmware_and_host():
    pipeline, drivers = _pipeline_and_drivers()
    mismatches = all_mismatches(config_constants(), pipeline=pipeline, drivers=drivers)
    assert mismatches == [], "\n".join(mismatches)


def test_wiring_svg_is_well_formed_and_linked():
    root = ET.fromstring(doc("wiring.svg"))
    assert root.tag == SVG_NS + "svg"
    assert "wiring.svg" in doc("wiring.md") and "wiring.svg" in doc("README.md")
    for page in ("bom.md", "wiring.md", "mounting.md", "flashing.md"):
        assert "(%s)" % page in doc("README.md"), page


def _anchors(markdown):
    """GitHub's anchors for the headings of a page."""
    out = set()
    for title in re.findall(r"^#+ (.+)$", markdown, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_relative_links_and_anchors_resolve():
    for page in DOCS.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([^)#:]*)(?:#([^)]*))?\)", text):
            path = DOCS / target if target else page
            assert path.exists(), "%s links to missing %s" % (page.name, target)
            if anchor:
                assert anchor in _anchors(path.read_text(encoding="utf-8")), (
                    "%s links to %s#%s, which has no such heading" % (page.name, path.name, anchor))


def test_clinic_screen_keys_named_in_the_docs_exist():
    """`z` (Zero pads) and `c` (Upright): the keys and labels the pages tell the technician to
    press are the clinic screen's own bindings."""
    app = (REPO / "host" / "smart_dowel" / "tui" / "app.py").read_text()
    bindings = set(re.findall(r'Binding\("([^"]+)", "[^"]+", "([^"]+)"', app))
    mentioned = set()
    for page in DOCS.glob("*.md"):
        mentioned |= set(re.findall(r"`(\w)` \(([A-Z][^)]*)\)", page.read_text(encoding="utf-8")))
    assert {("z", "Zero pads"), ("c", "Upright")} <= mentioned
    assert mentioned <= bindings, mentioned - bindings


def _with_constant(source, name, value):
    new, n = re.subn(r"^(%s\s*=\s*const\()[^)]*(\))" % name, r"\g<1>%d\2" % value, source, flags=re.M)
    assert n == 1, name
    return new


@pytest.mark.parametrize(
    "name, value",
    [
        ("FSR_HEAD_GPIO", 27),  # swapped with mid-back
        ("FSR_MIDBACK_GPIO", 26),
        ("FSR_TAILBONE_GPIO", 26),
        ("I2C_SDA_GPIO", 0),
        ("I2C_SCL_GPIO", 1),
        ("I2C_ID", 1),
        ("I2C_FREQ_HZ", 100000),
        ("FSR_DIVIDER_OHMS", 10000),
        ("WATCHDOG_TIMEOUT_MS", 3000),
    ],
)
def test_a_changed_config_value_is_caught(name, value):
    """Edit config.py's source the way a developer would; the docs must then fail the checks."""
    source = CONFIG_PY.read_text()
    cfg = config_constants(_with_constant(source, name, value))
    assert cfg[name] == value
    pipeline, drivers = _pipeline_and_drivers()
    mismatches = all_mismatches(cfg, pipeline=pipeline, drivers=drivers)
    assert mismatches, "changing %s to %r in config.py went unnoticed" % (name, value)


def test_manual_install_in_flashing_md_installs_the_manifest():
    """flashing.md's hand install compiles every .py of the two package folders and says that
    this is exactly device/manifest.py's list: true only while the folders and the manifest
    agree (add a file to one without the other and flashing.md needs updating)."""
    text = doc("flashing.md")
    assert "for f in protocol/dowel_protocol/*.py" in text
    assert "for f in device/dowel_device/*.py" in text
    assert "fs cp device/main.py :main.py" in text
    manifest = {}
    exec(compile((REPO / "device" / "manifest.py").read_text(), "manifest.py", "exec"), manifest)
    board_paths = sorted(dst for _src, dst in manifest["FILES"])
    globbed = sorted(
        ["lib/dowel_protocol/" + p.name for p in (REPO / "protocol" / "dowel_protocol").glob("*.py")]
        + ["lib/dowel_device/" + p.name for p in (REPO / "device" / "dowel_device").glob("*.py")]
        + ["main.py"]
    )
    assert globbed == board_paths
