"""Predictions against measurements and published results."""
