"""app.py's reliance on Streamlit internals: an upgrade that removes them must fail here, not slow training down."""

from __future__ import annotations

import runpy

from helpers import PROJECT


def test_the_patched_streamlit_hook_still_exists_and_is_switched_off(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    assert callable(getattr(script_runner, "_clean_problem_modules", None)), (
        "Streamlit no longer has script_runner._clean_problem_modules: re-check whether it still calls "
        "keras.backend.clear_session() after every script run, and update app.keep_keras_state_between_runs")
    original = script_runner._clean_problem_modules
    monkeypatch.setattr(script_runner, "_clean_problem_modules", original)  # restored after the test
    namespace = runpy.run_path(str(PROJECT / "app.py"), run_name="app_under_test")
    assert script_runner._clean_problem_modules is not original
    assert script_runner._clean_problem_modules() is None
    assert "keep_keras_state_between_runs" in namespace
