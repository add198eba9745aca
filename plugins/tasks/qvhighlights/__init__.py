"""QVHighlights moment retrieval + highlight detection: dataset, head, official metric."""
