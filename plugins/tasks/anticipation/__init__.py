"""Task package: anticipation (dataset, head, metric + official writer, demo data); see plugin.py."""
