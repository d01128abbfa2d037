"""The input pipeline: augmentations named by recipes, the data loaders built from a protocol, the batch
samplers, and checking that every image of a protocol decodes."""
