"""The procedures' portable kernels and what they share (common, metrics).

Every module here imports only the standard library, numpy and torch: the exported script
carries their source as it is. A test keeps it so.
"""
