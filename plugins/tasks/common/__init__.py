"""Evaluation and data plumbing shared by several tasks."""
