"""factorbench.benchmark."""


def __getattr__(name: str):
    # The training engine's exporter, offered here for submitters (issue 7); lazy, so `factorbench --help` stays fast.
    if name == "export_encoder":
        from factorbench.models.export import export_encoder

        return export_encoder
    raise AttributeError(f"module 'factorbench.benchmark' has no attribute {name!r}")
