"""The package version, here so that the ground floor can stamp manifests and signatures."""

__version__ = "0.1.0"
