"""polytune: specialize pretrained language models for new and low-resource languages and domain jargon."""

__version__ = "0.1.0"
