"""Evaluation protocols: subject-wise splits, resumable cross-validation, metrics."""
