"""ncodec."""
