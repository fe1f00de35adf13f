"""factorbench.benchmark."""
