"""Neural models: mel features, decoders, encoders, checkpoints and device selection."""
