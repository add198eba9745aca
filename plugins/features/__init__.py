"""Built-in plugin `features`: feature sources for the layouts the benchmarks release.

`NpyFeatures` (THUMOS14 I3D, MS-TCN Breakfast), `NpzFeatures` (Moment-DETR
QVHighlights), `HDF5Features` (ActivityNet C3D, TSP), `LMDBFeatures` (EPIC-KITCHENS
RULSTM), `TorchFeatures` (Ego4D), `ConcatFeatures` (several streams side by side)
and `VideoFrames` (decoded pixels, for `videos_dir:`).
"""
