"""What a model learned and how far to trust it: embeddings, robustness, weights, calibration."""
