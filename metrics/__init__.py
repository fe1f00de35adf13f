"""factorbench.metrics."""
