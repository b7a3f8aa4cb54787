"""Session-state keys, in one place so pages never disagree on a string.

Only small, per-browser choices live in session state; anything long-running
(downloads, training) keeps its state on disk under ``core.config``'s folders.
"""

#: core.catalog.CatalogResult of the current catalogue (cleaned table + report).
CATALOG = "catalog_result"
#: Display name of where the current catalogue came from (file name or "built-in sample").
CATALOG_SOURCE = "catalog_source"
#: pandas Index/list of OBJIDs picked with box/lasso on the sky map.
SKY_SELECTION = "sky_selection_objids"
#: Path (str) of the image folder the user is working with.
IMAGES_DIR = "images_dir"
#: Run folder (str) of the model picked on the Predict page.
PREDICT_RUN = "predict_run"
