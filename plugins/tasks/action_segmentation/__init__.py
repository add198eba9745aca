"""Temporal action segmentation (Breakfast, MS-TCN layout): dataset, head, MS-TCN metric, demo data."""
