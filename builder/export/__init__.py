"""Export: the standalone training script and other file formats (state_dict, ONNX)."""
