"""Fitting an efficiency profile to measurements."""
