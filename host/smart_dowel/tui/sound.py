"""Sound for the clinic screen (issue 15): the patient looks at the floor, not at the screen.

A short falling tone when a contact is lost and a rising one when it is back, a chime for a
good rep and another when the set is done; with --voice, the banner's words spoken through
espeak-ng. SoundCues is fed the same snapshots as the screen (on the UI thread, never from
the serial reader) and decides what to play; a sink plays it. Every sink notes when it was
asked to play what, so the tests and bench/ see exactly what a patient would hear.
"""

from __future__ import annotations

import array
import math
import shutil
import subprocess
import threading
import time

from ..feedback import BANDWIDTH, in_band
from .state import TARGET_BAND_DEG

RATE_HZ = 48000
BUFFER_MS = 10  # the device pulls this much at a time: the most a tone waits to start

# Each tone: notes of (frequency Hz, start s, length s). Lost falls, back rises (a patient
# tells them apart without looking); the chimes are brighter and longer.
TONES = {
    "contact_lost": ((587.0, 0.0, 0.10), (392.0, 0.09, 0.14)),
    "contact_back": ((523.0, 0.0, 0.08), (784.0, 0.07, 0.10)),
    "good_rep": ((1047.0, 0.0, 0.16), (1568.0, 0.06, 0.22)),
    "set_done": ((523.0, 0.0, 0.18), (659.0, 0.15, 0.18), (784.0, 0.30, 0.18),
                 (1047.0, 0.45, 0.40)),
}
NULL_DEVICE = "Discard all samples"  # miniaudio's null device: no sound card


def tone_samples(name, rate_hz=RATE_HZ, volume=0.3):
    """The tone's 16-bit mono PCM: sine notes with 5 ms fades (no clicks)."""
    notes = TONES[name]
    n = int(max(start + length for _f, start, length in notes) * rate_hz) + 1
    acc = [0.0] * n
    fade = int(0.005 * rate_hz)
    for freq, start, length in notes:
        i0, m = int(start * rate_hz), int(length * rate_hz)
        w = 2.0 * math.pi * freq / rate_hz
        for k in range(m):
            env = min(1.0, k / fade, (m - k) / fade)
            acc[i0 + k] += env * math.sin(w * k)
    peak = max(1.0, max(abs(x) for x in acc))
    return array.array("h", (int(32767 * volume * x / peak) for x in acc))


class Sink:
    """Plays tones and speech; `log` holds (monotonic s, session s or None, "tone" or
    "voice", name or text) of everything it was asked to play, in order."""

    def __init__(self):
        self.log = []

    def play(self, name, t_s=None):
        self.log.append((time.monotonic(), t_s, "tone", name))
        self._play(name)

    def say(self, text, t_s=None):
        self.log.append((time.monotonic(), t_s, "voice", text))
        self._say(text)

    def _play(self, name):
        pass

    def _say(self, text):
        pass

    def close(self):
        pass


class RecordingSink(Sink):
    """Plays nothing: what it would have played is in `log` (tests, bench)."""


class MiniaudioSink(Sink):
    """Tones through miniaudio (a playback device pulling BUFFER_MS at a time; tones that
    overlap are mixed); `started` holds (monotonic s, name) of the moment the device pulled
    each tone's first samples. Speech through `voice` (an EspeakVoice) if given."""

    def __init__(self, backends=None, voice=None):
        import miniaudio

        super().__init__()
        self.voice = voice
        self.started = []
        self._pcm = {name: tone_samples(name) for name in TONES}
        self._pending = []
        self._lock = threading.Lock()
        self._device = miniaudio.PlaybackDevice(
            output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=RATE_HZ,
            buffersize_msec=BUFFER_MS, backends=backends, app_name="smart-dowel")
        self._gen = self._stream()
        next(self._gen)
        self._device.start(self._gen)

    def _play(self, name):
        with self._lock:
            self._pending.append(name)

    def _say(self, text):
        if self.voice is not None:
            self.voice.say(text)

    def _stream(self):
        active = []  # [pcm, position]
        frames = yield b""
        while True:
            with self._lock:
                new, self._pending = self._pending, []
            if new:
                now = time.monotonic()
                for name in new:
                    self.started.append((now, name))
                    active.append([self._pcm[name], 0])
            if not active:
                frames = yield array.array("h", bytes(2 * frames))
                continue
            out = [0] * frames
            for tone in active:
                pcm, pos = tone
                chunk = pcm[pos:pos + frames]
                for k, v in enumerate(chunk):
                    out[k] += v
                tone[1] = pos + len(chunk)
            active = [t for t in active if t[1] < len(t[0])]
            frames = yield array.array("h", (max(-32768, min(32767, v)) for v in out))

    def close(self):
        try:
            self._device.stop()
            self._device.close()
        finally:
            if self.voice is not None:
                self.voice.close()


class EspeakVoice:
    """Speech through the espeak-ng program; a new sentence cuts the one being spoken."""

    def __init__(self, program):
        self.program = program
        self._proc = None

    def say(self, text):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
        self._proc = subprocess.Popen([self.program, "--", text], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(2)


def audio_output():
    """The name of this machine's audio output, or None when there is none (miniaudio
    missing, no backend, or only its null device)."""
    try:
        import miniaudio
    except ImportError:
        return None
    real = [b for b in miniaudio.Backend if b != miniaudio.Backend.NULL]
    try:
        devices = miniaudio.Devices(backends=real).get_playbacks()
    except miniaudio.MiniaudioError:
        return None
    names = [d["name"] for d in devices if not d["name"].startswith(NULL_DEVICE)]
    return names[0] if names else None


def open_sink(voice=False):
    """(sink or None, notice or None): a MiniaudioSink on the machine's audio output (with
    espeak-ng when `voice`); without an output, None and one sentence saying so."""
    output = audio_output()
    if output is None:
        return None, "No audio output on this machine: the cues are on screen only."
    speech, notice = None, None
    if voice:
        program = shutil.which("espeak-ng")
        if program is None:
            notice = "--voice: espeak-ng is not installed, so cues are not spoken."
        else:
            speech = EspeakVoice(program)
    try:
        return MiniaudioSink(voice=speech), notice
    except Exception as e:  # noqa: BLE001 - miniaudio's errors: sound off, said once
        return None, "Sound is off: the audio output %r did not open (%s)." % (output, e)


class SoundCues:
    """What to play for each new snapshot: the same events the screen draws.

    A contact lost or back (this very sample, as drawn), a good rep, the set done; with
    `voice`, the banner's text whenever it brings a new cue. Nothing while the feedback
    schedule holds live feedback back; the set-done chime always.
    """

    def __init__(self, sink, voice=False, enabled=True):
        self.sink = sink
        self.voice = voice
        self.enabled = enabled
        self._prev = None
        self._spoken = None

    def on_snapshot(self, snap, status=None):
        prev, self._prev = self._prev, snap
        if prev is None or self.sink is None or not self.enabled:
            return
        t = snap.t_s
        live = snap.feedback_live
        # the contacts heard as lost: none while feedback is held back (bandwidth turning
        # live on a contact fault sounds its loss then; turning silent sounds nothing)
        was = set(prev.lost) if prev.feedback_live and prev.has_data else set()
        now = set(snap.lost) if live and snap.has_data else set()
        if now - was:
            self.sink.play("contact_lost", t)
        elif was - now and live:
            self.sink.play("contact_back", t)
        same_group = (snap.group, snap.set_number) == (prev.group, prev.set_number)
        if same_group and len(snap.rows) > len(prev.rows):
            last = snap.rows[-1]
            # good as the banner says it: no fault (and, under bandwidth, inside the band)
            outside = snap.feedback_schedule == BANDWIDTH and not in_band(
                last.depth_deg, snap.target_depth_deg, TARGET_BAND_DEG)
            if live and not last.faults and last.feedback is not False and not outside:
                self.sink.play("good_rep", t)
        if (same_group and prev.set_running and not snap.set_running and snap.group == "set"
                and snap.target_reps and snap.rep_count >= snap.target_reps):
            self.sink.play("set_done", t)
        if self.voice:
            from .widgets import banner_content

            kind, text = banner_content(snap, status)
            words = text.plain
            if kind in ("fault", "warn", "good"):
                if words != self._spoken:
                    self._spoken = words
                    self.sink.say(words, t)
            else:
                self._spoken = None
