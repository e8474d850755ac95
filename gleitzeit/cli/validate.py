"""`gleitzeit validate FILE...` (implemented with the workflow format, issue 2)."""
