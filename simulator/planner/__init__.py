"""Plan search over training and inference plans."""
