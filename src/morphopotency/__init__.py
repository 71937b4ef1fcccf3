"""morphopotency: donor stem-cell multipotency from single-cell shape, checked against the transcriptome."""

__version__ = "0.1.0"
