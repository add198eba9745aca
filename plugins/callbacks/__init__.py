"""Built-in runner callbacks: plugins implementing the runner's lifecycle hooks."""
