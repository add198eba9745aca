"""Moment query (temporal action detection): ActivityNet-style and Ego4D MQ datasets, ActionFormer-style head, mAP metric."""
