"""The run folder: its files, their typed reader, listings and the model card."""
