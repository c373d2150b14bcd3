"""Datasets: the registry, built-in and file loaders, splits, normalisation, augmentation."""
