"""Natural language query (Ego4D NLQ, Charades-STA): datasets, boundary head, R@k,IoU=m metric."""
