"""The My digits page's fine-tune: a model trained further on MNIST plus your drawings, through the job runner every
session shares (queued behind any training), watched in the live panel, which measures it before and after."""

from __future__ import annotations

import streamlit as st

from app_pages.my_digits.state import MyDigitsState
from app_pages.shared.engine import job_runner
from app_pages.shared.live_panel import PanelWords, live_panel
from app_pages.shared.models import model_picker
from app_pages.shared.state import page_state
from app_pages.shared.text import plain
from mnist_core.store.my_digits import MyDigits
from mnist_core.store.records import RunRecord
from mnist_core.store.registry import Registry

FINETUNE_WORDS = PanelWords(heading="Fine-tune", failed="The fine-tune failed")
DEFAULT_EPOCHS, MAX_EPOCHS = 2, 10


def finetune_form(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """Pick a model and epochs, press Fine-tune: the job goes to the shared runner (queued behind any training)."""
    problem = collection.finetune_problem()
    if problem:
        st.warning(plain(problem))
    trained, held = collection.split()
    st.caption(f"A fine-tune starts from the model's weights and trains its dense layers on {len(trained)} of your "
               f"drawings (repeated, slightly shifted and turned) mixed with a few thousand MNIST images; the "
               f"{len(held)} held-out drawings are never trained on and measure the result, with MNIST test.")
    base_id = model_picker(listing)
    epochs = st.number_input("Epochs", min_value=1, max_value=MAX_EPOCHS, value=DEFAULT_EPOCHS,
                             help="passes over the mix of MNIST images and your training drawings (repeated "
                                  "and slightly shifted and turned to make up a quarter of it)")
    if st.button("Fine-tune", type="primary", disabled=bool(problem) or base_id is None, icon=":material/tune:"):
        from mnist_core.jobs.finetune import finetune_request

        page_state(MyDigitsState).finetune_job = job_runner(registry).submit(
            finetune_request(registry, base_id, int(epochs)))


def finetune_view(registry: Registry, collection: MyDigits, listing: list[RunRecord]) -> None:
    """The form, then the fine-tune this session started, live."""
    finetune_form(registry, collection, listing)
    job_id = page_state(MyDigitsState).finetune_job
    if job_id is not None:
        live_panel(job_runner(registry), job_id, FINETUNE_WORDS)
