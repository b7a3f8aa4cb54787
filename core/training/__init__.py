"""The CNN, its loss, augmentation, checkpoints and the training loop."""
