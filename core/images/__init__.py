"""Image folders: SDSS cutout URLs and downloads, checks, imports and preprocessing."""
