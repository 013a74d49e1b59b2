"""Tracing: a model config to the raw aten ops of one step (torch imported lazily)."""
