"""The signal pipeline: samples in, hinge angle, contacts, reps and faults out. Pure numpy,
no UI and no I/O, so the TUI (streaming) and `dowel analyze` (batch) share every decision.

Stages, each a small object with its state carried between calls (core.py composes them):
orientation.py (gravity from accelerometer and gyro, either gyro sign), inclination.py (the
signed angle in the plane the dowel tips in), contacts.py (pads on/off), segmenter.py (reps:
a Schmitt trigger on an adaptive baseline, no upright needed), faults.py (per-rep scoring).

Typical use, live (the UI's worker pushes each batch the serial reader posts)::

    pipe = Pipeline(PipelineConfig(target_depth_deg=50), calibration)
    events = pipe.push_messages(messages)      # or pipe.push(Samples(...))
    pipe.state.hinge_deg, pipe.state.contacts, pipe.state.rep_count, pipe.state.cue

and on a file::

    result = analyze(samples)                  # Analysis
    result.reps, result.hinge_deg, result.to_json()

The public names, all importable from here:

- Samples: a columnar batch (numpy) in physical units; Samples.from_messages(msgs, calibration),
  Samples.from_arrays(dict); SampleConverter keeps the t_us unwrapping across batches.
- Calibration (per-sensor FSR zero/scale, upright gravity direction, gyro bias),
  SensorCalibration; both to/from dict.
- PipelineConfig: every threshold, with defaults (target depth 45 deg, rushed < 1 s, ...).
- Pipeline: the streaming pipeline. push(samples) / push_messages(msgs) -> list of events;
  state (LiveState); reps (completed Rep list); calibrate_upright(); zero_contacts();
  set_target_depth(deg); new_set().
- Events: RepStarted, RepCompleted, RepCancelled, FaultRaised, FaultCleared, ContactChanged,
  UprightCaptured.
- Rep, Fault, LiveState, ContactState; FAULT_IDS, CUES, CONTACTS, CONTACT_LABELS.
- analyze(samples, config=None, calibration=None) -> Analysis (reps, per-sample hinge_deg and
  contacts, to_dict()/to_json() in product.md's `dowel analyze --json` shape).
"""

# Bumped whenever a change can alter reps or faults on the same input (stored with sessions).
__version__ = "2.0"

from .calibration import Calibration, SensorCalibration  # noqa: E402
from .config import PipelineConfig
from .samples import SampleConverter, Samples
from .types import (
    CONTACT_FAULT,
    CONTACT_LABELS,
    CONTACTS,
    CUES,
    FAULT_IDS,
    PHASE_ASCENT,
    PHASE_BOTTOM,
    PHASE_DESCENT,
    PHASE_NOT_READY,
    PHASE_STANDING,
    ContactChanged,
    ContactState,
    Fault,
    FaultCleared,
    FaultRaised,
    LiveState,
    Rep,
    RepCancelled,
    RepCompleted,
    RepStarted,
    UprightCaptured,
)
from .core import Pipeline
from .batch import Analysis, analyze

__all__ = [
    "Analysis", "Calibration", "ContactChanged", "ContactState", "CONTACT_FAULT",
    "CONTACT_LABELS", "CONTACTS", "CUES", "FAULT_IDS", "Fault", "FaultCleared", "FaultRaised",
    "LiveState", "PHASE_ASCENT", "PHASE_BOTTOM", "PHASE_DESCENT", "PHASE_NOT_READY",
    "PHASE_STANDING", "Pipeline", "PipelineConfig", "Rep", "RepCancelled", "RepCompleted",
    "RepStarted", "SampleConverter", "Samples", "SensorCalibration", "UprightCaptured",
    "analyze",
]
