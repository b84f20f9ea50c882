"""The Gradio studio: one module per tab, thin adapters over the engine, figures from pure functions."""
