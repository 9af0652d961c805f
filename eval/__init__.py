"""Evaluation: dataset loaders and metrics."""
