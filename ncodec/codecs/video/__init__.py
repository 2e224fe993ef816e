"""Video codec: latent grids fitted per group of frames, decoded by a small exact synthesis network."""
