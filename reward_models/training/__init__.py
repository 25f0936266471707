"""Shared judge machinery: prompt/answer layout, one-pass readout, TRL and Ray Train plumbing."""
