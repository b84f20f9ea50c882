"""Text to model input: batched encoding, truncation, length statistics, one text's token preview."""
