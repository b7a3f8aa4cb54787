"""Explain and explore a trained run: saliency per answer and galaxies like this one (issue 20).

Stage order: above :mod:`core.cluster`, below :mod:`core.votes`; it imports catalog, images,
training, inference and cluster only.

* :mod:`core.explain.answers` — which answer column a run may be asked about (learned ones only);
* :mod:`core.explain.saliency` — Grad-CAM maps (captum ``LayerGradCam``) in original-image pixels;
* :mod:`core.explain.geometry` — the model's framing box and mapping a model-view map back;
* :mod:`core.explain.features` — penultimate features (embeddings) of prepared images;
* :mod:`core.explain.identity` — which model an embedding index came from;
* :mod:`core.explain.index_file` — the embedding index as a parquet file (data only, no pickles);
* :mod:`core.explain.embed_set` — streamed, resumable embedding of a galaxy set;
* :mod:`core.explain.embed_cluster` — the same on Dask (``--cluster N`` / ``--scheduler ADDRESS``);
* :mod:`core.explain.neighbours` — exact cosine nearest-neighbour search (chunked float32 matmul);
* :mod:`core.explain.similar` — many queries (IDs, images) against one index;
* :mod:`core.explain.index_lookup` — which index belongs to a run, and which files a map can show;
* :mod:`core.explain.projection` — the 2-D map of an index (PCA of the unit-length embeddings);
* :mod:`core.explain.map_table` — the map's galaxies joined with their images, votes and model answers;
* :mod:`core.explain.selection` — label files cut to the galaxies selected on the map.
"""
