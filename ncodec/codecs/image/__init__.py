"""The image codec: a mean-scale hyperprior with per-quality gain vectors."""
