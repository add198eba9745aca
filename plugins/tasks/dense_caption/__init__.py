"""Dense video captioning (ActivityNet Captions): dataset, head, densevid + SODA_c metric, demo data."""
