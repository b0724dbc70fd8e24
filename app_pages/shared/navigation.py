"""Where the pages are and how a link names a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass



HOME_PAGE, TRAIN_PAGE = "app_pages/home/home.py", "app_pages/train/train.py"


RUN_PARAM = "run"  # query parameter of a link that opens a page on one run: /errors?run=RUN_ID


TRAIN_HINT = "Train one on the Train page, or from a terminal: `python -m mnist_core train --preset fast-cnn`."
