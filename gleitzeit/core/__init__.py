"""Core public types: the exception tree and the result models."""
