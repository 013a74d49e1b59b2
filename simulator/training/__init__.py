"""Training at scale: one optimizer step of a parallel plan."""
