"""BERT Studio: fine-tune BERT-family text classifiers on your own CSV."""

__version__ = "0.1.0"
