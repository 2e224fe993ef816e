"""Codecs, one package per modality. Each turns media into payload chunks and back."""
