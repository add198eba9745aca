"""Task package: online_caption (dataset, head, metric + official writer, demo data); see plugin.py."""
