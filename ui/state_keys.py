"""Session-state keys, in one place so pages never disagree on a string.

Only small, per-browser choices live in session state; anything long-running
(downloads, training) keeps its state on disk under ``core.config``'s folders.
"""

#: core.catalog.reader.CatalogResult of the current catalogue (cleaned table + report).
CATALOG = "catalog_result"
#: Display name of where the current catalogue came from (file name or "built-in sample").
CATALOG_SOURCE = "catalog_source"
#: pandas Index/list of OBJIDs picked with box/lasso on the sky map.
SKY_SELECTION = "sky_selection_objids"
#: Content hash (str) of the catalogue in CATALOG, so reruns skip re-parsing it.
CATALOG_DIGEST = "catalog_digest"
#: bool: CATALOG is the built-in sample (no upload replaced it). Read all four through ui.catalog_state.
CATALOG_IS_SAMPLE = "catalog_is_sample"
#: int: bumped to empty the Catalog page's uploader ("Use the built-in sample instead").
CATALOG_UPLOAD_GENERATION = "catalog_upload_generation"
#: bool: the Catalog page shows a catalogue uploaded earlier in the session (its uploader is empty).
CATALOG_KEEP_EARLIER = "catalog_keep_earlier_upload"
#: bool: the selection in use was made before a visit to another page (the map's own state is gone).
CATALOG_KEEP_SELECTION = "catalog_keep_earlier_selection"
#: (digest, colour column, SkyMap) of the last sky map drawn on the Catalog page.
SKY_MAP_CACHE = "catalog_sky_map_cache"
#: Path (str) of the image folder the user is working with.
IMAGES_DIR = "images_dir"
#: bool: the Images page last saw a download job active (so it reruns once when the job ends).
IMAGES_JOB_SEEN_ACTIVE = "images_job_seen_active"
#: Images page: the last import's result, kept over the rerun that redraws the page with the imported images.
IMAGES_IMPORT_RESULT = "img_import_result"
#: Run folder (str) of the model picked on the Predict page.
PREDICT_RUN = "predict_run"
#: Run folder (str) of the training run this browser session started on the Train page.
TRAIN_RUN = "train_run"
#: bool: the Train page last saw a training run active (so it reruns once when the run ends).
TRAIN_SEEN_ACTIVE = "train_seen_active"
#: Anonymous random session ID (str) of this browser tab's visitor on the Classify page.
VOTE_SESSION = "vote_session_id"
#: Client key (str, core.votes.clients: a keyed hash of the visitor's address, never the address) the
#: Classify page's votes are counted by; the same across this visitor's tabs and reloads.
VOTE_CLIENT = "vote_client_key"
#: OBJID (str) of the galaxy the Classify page is showing now.
VOTE_CURRENT = "vote_current_galaxy"
#: ui.classify_state.LastVote: the vote just cast with its feedback as computed then (drives the reveal), or absent.
VOTE_LAST = "vote_last"
#: list[str] of OBJIDs this visitor skipped (not offered again in this tab).
VOTE_SKIPPED = "vote_skipped"
#: str message of the last refused vote (rate limit, already voted), shown once.
VOTE_NOTICE = "vote_notice"
#: Where the Classify page takes galaxies from ("demo", "downloaded" or "folder").
VOTE_SOURCE = "vote_image_source"
#: bool: the Classify page shows the galaxies the model is least sure of first (lowest TOP_P).
VOTE_LEAST_SURE = "vote_least_certain_first"
#: dict image-set name ("folder X") -> folder path (str) of every folder the Classify page took galaxies from.
VOTE_FOLDERS = "vote_folders_seen"
#: int: how often the Catalog page's "Clear the selection" was pressed (part of the sky map's chart key).
SKY_MAP_CLEARS = "sky_map_clears"
#: Predict page choices, kept for the whole session (widgets use persist_state="session"):
#: test-time augmentation (bool), galaxy source (radio label), only held-out galaxies (bool).
PREDICT_TTA = "predict_tta"
PREDICT_SET_SOURCE = "predict_set_source"
PREDICT_HELD_OUT = "predict_held_out"
#: Compare page choices, kept for the whole session: runs on the leaderboard (list of run folders),
#: TTA (bool), galaxy source (radio label), only held-out galaxies (bool), runs A and B (run folders).
COMPARE_RUNS = "compare_runs"
COMPARE_TTA = "compare_tta"
COMPARE_SET_SOURCE = "compare_set_source"
COMPARE_HELD_OUT = "compare_held_out"
COMPARE_A = "compare_a"
COMPARE_B = "compare_b"
#: Predict page, "Whole catalogue" tab (ui.prediction_job): galaxy source (radio label), demo labels name,
#: catalogue CSV path, engine (radio label), worker count (int), scheduler address, galaxies per task (int);
#: widget-key prefixes of the image folder and output CSV inputs; the start button; and whether the tab
#: last saw a job active (bool, so it reruns once when the job ends).
PREDICT_JOB_SOURCE = "predict_job_source"
PREDICT_JOB_DEMO = "predict_job_demo"
PREDICT_JOB_CSV = "predict_job_csv"
PREDICT_JOB_ENGINE = "predict_job_engine"
PREDICT_JOB_WORKERS = "predict_job_workers"
PREDICT_JOB_SCHEDULER = "predict_job_scheduler"
PREDICT_JOB_PARTITION = "predict_job_partition_rows"
PREDICT_JOB_IMAGES = "predict_job_images"
PREDICT_JOB_OUT = "predict_job_out"
PREDICT_JOB_START = "predict_job_start"
PREDICT_JOB_SEEN_ACTIVE = "predict_job_seen_active"
#: Images page engine choice (ui.cluster_engine, persist_state="session"): engine (radio label), worker
#: processes of the embedded cluster (int), scheduler address (str), galaxies per Dask task (int).
IMAGES_ENGINE = "img_engine"
IMAGES_WORKERS = "img_cluster_workers"
IMAGES_SCHEDULER = "img_scheduler"
IMAGES_PARTITION = "img_partition_rows"
#: Images page widgets and bookkeeping (pages/images.py, ui/images_gallery.py, ui/download_job_view.py):
#: folder whose job last filled the settings form (str); folder the sky-map selection last switched
#: "Which galaxies" for (str); widget values kept across page visits (dict key -> value);
IMAGES_PREFILLED_FOR = "img_form_prefilled_for"
IMAGES_MODE_SET_FOR = "img_mode_set_for"
IMAGES_KEPT = "img_kept_choices"
#: which galaxies (mode), how many, random seed, class filter;
IMAGES_MODE = "img_mode"
IMAGES_N = "img_n"
IMAGES_SEED = "img_seed"
IMAGES_CLASS = "img_class"
#: the download settings form: service, scale (arcsec/px), size (px), base URL, parallel requests,
#: min. seconds between requests, deadline per request (s), retries;
IMAGES_SOURCE = "img_source"
IMAGES_SCALE = "img_scale"
IMAGES_SIZE = "img_size"
IMAGES_BASE_URL = "img_base_url"
IMAGES_REQUESTS = "img_workers"
IMAGES_INTERVAL = "img_interval"
IMAGES_TIMEOUT = "img_timeout"
IMAGES_RETRIES = "img_retries"
#: the start, retry-failed and cancel buttons; the import controls; the gallery's filter toggle and page.
IMAGES_START = "img_start"
IMAGES_RETRY = "img_retry"
IMAGES_CANCEL = "img_cancel"
IMAGES_IMPORT_BUILTIN = "img_import_builtin"
IMAGES_IMPORT_FOLDER = "img_import_folder"
IMAGES_IMPORT_ZIP = "img_import_zip"
IMAGES_IMPORT = "img_import"
IMAGES_ONLY_CATALOG = "img_only_catalog"
IMAGES_GALLERY_PAGE = "img_page"
#: Predict page: OBJID (str) opened from "More like this" (shown until a table row is selected).
PREDICT_FOCUS = "predict_focus_id"
#: Explore page (embedding map, ui.embedding_selection / ui.embedding_map_view): the box/lasso selection
#: (ui.embedding_selection.MapSelection), the index files shown (list of paths), the colour choice (str),
#: the clicked galaxy (ID str), how often "Clear the selection" was pressed (part of the chart key),
#: whether the selection in use was made before the chart was last redrawn (bool), and the Predict and
#: Train toggles "only the galaxies selected on the embedding map" (bool).
MAP_SELECTION = "embedding_map_selection"
MAP_FILES = "embedding_map_files"
MAP_COLOUR = "embedding_map_colour"
MAP_FOCUS = "embedding_map_focus_id"
MAP_CLEARS = "embedding_map_clears"
MAP_KEEP_SELECTION = "embedding_map_keep_selection"
MAP_ONLY_PREDICT = "embedding_map_only_predict"
MAP_ONLY_TRAIN = "embedding_map_only_train"
