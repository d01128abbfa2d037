"""Evaluation: features from a trained model, retrieval metrics, re-ranking, classification error."""
