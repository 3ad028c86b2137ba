"""Training recipes (decoder, encoder pre-training, I_PT, I_FT): resumable, logged, CPU-first."""
