"""CIRN: a closed-network research enclave for clinical and genomic data."""

__version__ = "0.1.0"
