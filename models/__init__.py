"""factorbench.models."""
