"""Expert cache and prefetch simulation: what a RAM/VRAM expert cache of a given size would hit.

A pure library (NumPy and compiled kernels, no database):

- ``sequence``: the access sequence of a run (decode steps in order, layers ascending, the
  distinct selected experts in rank order) as arrays of item ids, and capacities from budgets;
- ``engine``: the fast policies (lru, fifo, lfu, static, belady), every capacity of a sweep
  from one call;
- ``reference``: a plain-Python simulator written straight from the rules, for the tests;
- ``predictors``: prefetch predictors (prev-token, static, transition, oracle) and their scores.

``warehouse.simulate.runner`` runs simulations on a warehouse and stores the results.
"""

from .engine import POLICIES, SCOPES, CacheResult, simulate
from .sequence import AccessSequence, capacity_from_budget

__all__ = ["POLICIES", "SCOPES", "AccessSequence", "CacheResult", "capacity_from_budget", "simulate"]
