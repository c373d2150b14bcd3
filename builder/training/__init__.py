"""Training: procedures (declared once), the generic loop, the Trainer (thread, channel),
objectives, monitoring, records and checkpoints."""
