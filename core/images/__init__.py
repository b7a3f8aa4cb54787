"""Image folders: SDSS cutout URLs and downloads, checks, imports and preprocessing.

One idea per module:

* ``folder`` — what an image folder is: suffixes, magic bytes, listings, OBJID <-> path;
* ``check`` — is this a usable cutout (HTTP answer, JPEG bytes, file on disk);
* ``reading`` — checked opening of user images (uploads, CLI, folders) as RGB;
* ``cutouts`` — SkyServer URLs, cutout settings and the dashboard's host allow-list;
* ``download_config`` — every download setting, defined once (CLI flags, page, job derive from it);
* ``fetch`` — one cutout over HTTP: retries, backoff, total deadline;
* ``failures`` — why a galaxy has no image, in plain words, and ``failures.csv``;
* ``download`` — the run loop of a download job (workers, state, cancel, disk full);
* ``download_job`` — starting a job detached, its stored settings, retry and resume;
* ``selection`` — which galaxies of a catalogue to fetch;
* ``imageset`` — ``imageset.json``: what a folder's images are (scale, size, source);
* ``importer`` — bringing in a folder or zip of ``<OBJID>.jpg`` files;
* ``preprocess`` and ``framing`` — turning an image into what a model sees.
"""
