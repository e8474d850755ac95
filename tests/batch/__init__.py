"""Tests of the durable batch workflow (BatchWorkflow, the batch activities, start_batch/wait_batch)."""
