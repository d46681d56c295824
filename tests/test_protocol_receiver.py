"""Protocol 1.1 receiver rules against protocol/vectors.json (tests/mp/test_receiver_plain.py),
under CPython here and under the real MicroPython interpreter; and the host's fast COBS decoder
on the COBS forms SPEC section 2 allows."""

import sys
from pathlib import Path

import pytest
from conftest import run_micropython_tests

sys.path.insert(0, str(Path(__file__).resolve().parent / "mp"))
import test_receiver_plain as plain  # noqa: E402

PLAIN = sorted(n for n in dir(plain) if n.startswith("test_"))


@pytest.mark.parametrize("name", PLAIN)
def test_plain_under_cpython(name):
    getattr(plain, name)()


def test_plain_under_micropython():
    assert run_micropython_tests("test_receiver_plain") == len(PLAIN)


def test_the_fast_cobs_decoder_takes_both_forms_too():
    from cobs import cobs as fast

    for vec in plain._vectors()["cobs_also_decodes"] + plain._vectors()["cobs_vectors"]:
        assert fast.decode(bytes.fromhex(vec["encoded_hex"])) == bytes.fromhex(vec["decoded_hex"])
