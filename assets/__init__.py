"""Shipped weights, model cards and small sample media (installed as the package ``ncodec.assets``)."""
