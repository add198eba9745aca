"""Task package: oad (dataset, head, metric + official writer, demo data); see plugin.py."""
