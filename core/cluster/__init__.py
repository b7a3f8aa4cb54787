"""Whole-catalogue work on a Dask ``distributed`` cluster: catalogue-wide prediction and downloads.

:mod:`core.cluster.engine` chooses the engine (an embedded ``LocalCluster`` or a running
scheduler) from one set of options shared by every command; the other modules split a
job into partitions and run them there. This stage sits above ``core.inference`` and
``core.images`` and below ``core.cli``.
"""
