"""Outputs, plots, comparisons, sweeps, sensitivity and reports built on top of the model."""
