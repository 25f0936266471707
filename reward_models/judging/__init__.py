"""A judge at inference: its prompt/answer layout, its own descriptions, the one-pass readout and the scorer base."""
