"""The input pipeline: augmentations named by recipes, and the data loaders built from a protocol."""
