"""Import: an ``nn.Module`` (or a script that builds one) read back into a project via torch.fx."""
