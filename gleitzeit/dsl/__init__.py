"""The workflow format: load YAML/dicts into validated models, resolve references between tasks."""
