"""Benchmark baselines and report: Slicer's Grow from seeds, marker watershed, nnU-Net-style 2D U-Nets.

Every baseline implements the engine's method interface (`CrossMRLib.methods.base.Method`), so
`CrossMRLib.pipeline.segment_study` runs them on exactly the inputs CrossMR gets.
"""
