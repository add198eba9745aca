"""Task package: lta (dataset, head, metric + official writer, demo data); see plugin.py."""
