"""Labels, datasets, the CNN, its loss, augmentation, checkpoints and the training loop."""
