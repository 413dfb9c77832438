"""``moewh capture``: run a GGUF MoE model with stock llama.cpp (llama-cpp-python) and record
every token's experts and router weights (``runner``), then store the run (``store``)."""
