"""ServiceConfiguration and the scale-to-zero reconciler."""
