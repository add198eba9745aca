"""Built-in task plugins: one package per task (dataset, head, metric + writer, demo data)."""
