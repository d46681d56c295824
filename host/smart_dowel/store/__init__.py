"""The session store: patients, sessions, sets, reps, faults and every raw sample, in SQLite.

    store = Store.open()                       # DOWEL_DATA_DIR or the per-user data directory
    session = store.start_session("Jane Doe", device_info, port="/dev/ttyACM0")
    session.add_batch(link_batch)              # or add_samples(messages)
    session.start_set(target_depth_deg=60, target_reps=10)
    session.add_rep(rep); session.add_gap(link_gap); session.end_set()
    session.close()
"""

from ..errors import StoreError
from .db import SessionWriter, Store, clean_patient_name, patient_from_args
from .paths import data_dir, db_path, default_export_name, safe_name
from .samples import SAMPLE_DTYPE

__all__ = [
    "SAMPLE_DTYPE",
    "SessionWriter",
    "Store",
    "StoreError",
    "clean_patient_name",
    "data_dir",
    "patient_from_args",
    "db_path",
    "default_export_name",
    "safe_name",
]
