"""MoE Trace Warehouse: mixture-of-experts traces and GGUF expert layouts in DuckDB."""

__version__ = "0.1.0"
