"""Layout files of the old pipeline: gguf-dump CSV and memory-map.json."""
