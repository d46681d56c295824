"""Helpers of the simulated-dowel tests: talk to a dowel over a serial port with pyserial and
the protocol package, as any client would, and compare what came back with the truth."""

import numpy as np
import serial

import dowel_protocol as P


class Client:
    """A serial client of a (simulated) dowel: commands out, decoded messages in."""

    def __init__(self, port):
        self.ser = serial.Serial(port, timeout=0.05)
        self.ser.reset_input_buffer()
        self.dec = StreamDecoderLog()
        self.seq = 0

    def send(self, cmd, values=()):
        self.seq += 1
        self.ser.write(P.pack(cmd, self.seq, values))
        return self.seq

    def read_until(self, pred, max_reads=400):
        """Read until pred(messages so far) is true; returns all messages read meanwhile."""
        got = []
        for _ in range(max_reads):
            got += self.dec.feed(self.ser.read(4096))
            if pred(got):
                return got
        raise AssertionError("the dowel never sent what was expected; got %s" % summary(got))

    def command(self, cmd, values=()):
        """Send a command and read up to its ACK/NACK; returns (reply, messages read)."""
        seq = self.send(cmd, values)

        def replied(msgs):
            return any(m.name in ("ack", "nack") and m.cmd_seq == seq for m in msgs)

        msgs = self.read_until(replied)
        reply = [m for m in msgs if m.name in ("ack", "nack") and m.cmd_seq == seq][0]
        return reply, msgs

    def close(self):
        self.ser.close()


class StreamDecoderLog(P.StreamDecoder):
    """A StreamDecoder that keeps every message it decoded (in .log)."""

    def __init__(self):
        super().__init__()
        self.log = []

    def feed(self, data):
        out = super().feed(data)
        self.log += out
        return out


def summary(msgs):
    names = {}
    for m in msgs:
        names[m.name] = names.get(m.name, 0) + 1
    return names


def samples(msgs):
    return [m for m in msgs if m.name == "sample"]


def sample_arrays(msgs, t0_us=None):
    """t (s, unwrapped, from t0_us or else from the first sample), accel (g, N x 3), forces
    (counts, N x 3). Scenario time 0 is the first sample after START; with autostart the
    simulator streams from power-up, where its clock starts at 0, so t0_us=0."""
    s = samples(msgs)
    t_us = np.array([m.t_us for m in s], dtype=np.int64)
    t = np.cumsum(np.r_[0, (np.diff(t_us) % P.T_US_MODULUS)]) / 1e6
    if t0_us is not None:
        t = t + ((t_us[0] - t0_us) % P.T_US_MODULUS) / 1e6
    acc = np.array([(m.ax_mg, m.ay_mg, m.az_mg) for m in s], dtype=float) / 1000.0
    fsr = np.array([(m.head, m.midback, m.tailbone) for m in s], dtype=float)
    return t, acc, fsr


def inclination_deg(acc, ref):
    """Angle between each accelerometer reading and a reference (upright) direction."""
    ref = ref / np.linalg.norm(ref)
    cos = (acc @ ref) / np.linalg.norm(acc, axis=1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def check_stream_matches_truth(t, acc, truth, tol_deg=6.0):
    """The inclination seen by the accelerometer is ~0 before each rep and ~depth at its
    bottom (t in scenario time: 0 is the first sample after START)."""
    reps = truth["reps"]
    assert reps
    first = reps[0]["start_s"]
    still = (t > first - 1.5) & (t < first - 0.3)
    assert still.sum() >= 5
    ref = acc[still].mean(axis=0)
    inc = inclination_deg(acc, ref)
    for rep in reps:
        before = (t > rep["start_s"] - 0.8) & (t < rep["start_s"] - 0.1)
        bottom = np.abs(t - rep["bottom_s"]) < 0.1
        assert before.any() and bottom.any(), rep
        assert np.median(inc[before]) < 4.0, (rep, np.median(inc[before]))
        assert abs(np.median(inc[bottom]) - rep["depth_deg"]) < tol_deg, (rep, np.median(inc[bottom]))
