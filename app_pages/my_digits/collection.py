"""The My digits page's set: the drawings filed from the Draw page, counted per digit (held-out part apart), shown
as grids, removable, exported and imported as .npz."""

from __future__ import annotations

import streamlit as st

from app_pages.my_digits.state import MyDigitsState
from app_pages.shared.state import flash, page_state, show_flash
from app_pages.shared.text import plain
from mnist_core.data.pictures import enlarge
from mnist_core.errors import DigitLabError
from mnist_core.store.my_digits import HOLD_OUT_SHARE, MAX_IMPORT_BYTES, MyDigits, MyDigitsError, check_import_size

ZOOM = 3  # 28×28 drawings shown at 84×84
TILE_PX = 28 * ZOOM  # every tile the same width, whatever its caption
REMOVE_KEY = "mine.remove"


def drawing_tiles(images, captions: list[str]) -> None:
    """28×28 drawings side by side, enlarged without blur to tiles of one width, each with its caption."""
    st.image([enlarge(image, ZOOM) for image in images], caption=captions, width=TILE_PX)


def set_summary(collection: MyDigits) -> dict:
    """Drawings per digit, held out and in total, as a one-row table and a caption; returns the counts."""
    counts = collection.counts()
    st.dataframe([{"": "drawings", **{str(d): n for d, n in counts["per_digit"].items()}, "total": counts["total"]},
                  {"": "held out", **{str(d): n for d, n in counts["held_out_per_digit"].items()},
                   "total": counts["held_out"]}], hide_index=True)
    st.caption(f"{counts['held_out']} of {counts['total']} drawings are held out: about {HOLD_OUT_SHARE:.0%} of each "
               "digit, chosen by a fixed hash of each drawing's id, never trained on, so the accuracy on them says "
               "how well a model reads drawings it has not seen.")
    return counts


def digit_grids(collection: MyDigits, items) -> None:
    """Every drawing as the model saw it, one row per digit; held-out ones are marked."""
    for digit in range(10):
        chosen = [item for item in items if item.label == digit]
        if chosen:
            st.markdown(f"**{digit}** · {len(chosen)}")
            drawing_tiles([collection.image(item.id) for item in chosen],
                          [f"{item.id[:6]}{' · held out' if item.held_out else ''}" for item in chosen])


def remove_control(collection: MyDigits, items) -> None:
    """Pick drawings by digit and id, and remove them."""
    labels = {item.id: f"{item.label} · {item.id[:6]}{' · held out' if item.held_out else ''}" for item in items}
    doomed = st.multiselect("Drawings to remove", list(labels), format_func=labels.get, key=REMOVE_KEY)
    if st.button("Remove", disabled=not doomed, icon=":material/delete:"):
        try:
            flash("success", f"Removed {collection.remove(doomed)} drawing(s).")
        except MyDigitsError as error:
            flash("error", str(error))
        st.session_state.pop(REMOVE_KEY, None)
        st.rerun()


def export_import(collection: MyDigits, count: int) -> None:
    """Download the set as .npz; upload one to add its drawings (once per uploaded file)."""
    st.download_button("Export My digits (.npz)", data=collection.export_bytes() if count else b"",
                       file_name="my_digits.npz", mime="application/octet-stream", disabled=not count,
                       icon=":material/download:")
    upload = st.file_uploader("Import a My digits file (.npz)", type=["npz"],
                              max_upload_size=MAX_IMPORT_BYTES // 2**20)  # the import's own limit, said up front
    state = page_state(MyDigitsState)
    if upload is None or state.imported == upload.file_id:
        return
    state.imported = upload.file_id
    try:
        check_import_size(upload.size)
        added, skipped = collection.import_bytes(upload.getvalue())
    except DigitLabError as error:  # not an export, or a full disk
        st.error(f"That file was not imported: {plain(error)}")
        return
    flash("success", f"Imported {added} drawing(s); {skipped} already in My digits were skipped.")
    st.rerun()  # counts and grids above were drawn before the import


def set_view(collection: MyDigits) -> int:
    """The set: counts, grids, remove, export and import; returns the number of drawings."""
    show_flash()
    counts = set_summary(collection)
    items = collection.items()
    if not items:
        st.info("No drawings yet. On the Draw page, draw a digit and press “That was a …” to file it here "
                "(about 10 of each digit make a fine-tune work well), or import a file below.")
        st.page_link("app_pages/draw/draw.py", label="Go to the Draw page", icon=":material/draw:")
    else:
        digit_grids(collection, items)
        remove_control(collection, items)
    export_import(collection, counts["total"])
    return counts["total"]
