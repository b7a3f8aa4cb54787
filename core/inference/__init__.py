"""Loaded runs, predictions for one image or a whole set, metrics and model comparison."""
