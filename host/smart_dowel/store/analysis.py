"""The store's hook for `dowel analyze session:ID` (named by analyze.SESSION_LOADER)."""

from .replay import load_session


def load_for_analysis(session_id):
    """(Samples, Calibration, source dict) of a stored session; StoreError if it is missing.

    The samples are every raw sample stored, converted with the session's saved calibration,
    on the session clock (0 at the first sample), so the reps found line up with the stored
    ones and with the report's plots.
    """
    samples, calibration, session = load_session(session_id)
    source = {
        "patient": session["patient"],
        "started": session["started"],
        "stored_rep_count": session["rep_count"],
        "pipeline_version": session["pipeline_version"],
        "gaps": len(session["gaps"]),
    }
    return samples, calibration, source
