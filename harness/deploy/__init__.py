"""Trained models in use: loading a run's model, features of your own images, features files, searching a
gallery, evaluating checkpoints and features files, ONNX export."""
