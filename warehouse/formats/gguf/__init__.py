"""The GGUF header: tensor layout and metadata, read without the weights."""
