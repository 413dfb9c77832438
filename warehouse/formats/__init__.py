"""Decoders, one module per input format. They read files and return plain Python objects;
turning those into warehouse rows is the job of ``warehouse.ingest``."""
