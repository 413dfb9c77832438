"""The old pipeline's ``prompts.json`` as a capture plan (trace-format spec section 6).

``{experiment_name, description?, prompts: [{id, domain?, prompt, n_predict?}]}``: one run per
prompt, named by its ``id``. Read strictly, because here it drives work rather than labelling
it: a missing or mistyped key is refused with the key's path (``prompts[2].prompt``), and ids
must be unique (they name the runs and the ``--trace-out`` folders).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PlannedPrompt:
    id: str
    prompt: str
    domain: str | None
    n_predict: int | None


@dataclass(frozen=True)
class PromptPlan:
    experiment: str | None
    prompts: list[PlannedPrompt]


def read_prompts(path: str | Path) -> PromptPlan:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise InputError(path, "expected an object with experiment_name and prompts")
    experiment = doc.get("experiment_name")
    if experiment is not None and not isinstance(experiment, str):
        raise InputError(path, "key experiment_name: expected a string")
    items = doc.get("prompts")
    if not isinstance(items, list) or not items:
        raise InputError(path, "key prompts: expected a non-empty list")
    out, seen = [], set()
    for i, p in enumerate(items):
        where = f"key prompts[{i}]"
        if not isinstance(p, dict):
            raise InputError(path, f"{where}: expected an object")
        pid = p.get("id")
        if isinstance(pid, int) and not isinstance(pid, bool):
            pid = str(pid)
        if not isinstance(pid, str) or not _SAFE_ID.match(pid):
            raise InputError(path, f"{where}.id: expected a name of letters, digits, '.', '_' or '-'")
        if pid in seen:
            raise InputError(path, f"{where}.id: {pid!r} appears twice")
        seen.add(pid)
        text = p.get("prompt")
        if not isinstance(text, str) or not text:
            raise InputError(path, f"{where}.prompt: expected a non-empty string")
        domain = p.get("domain")
        if domain is not None and not isinstance(domain, str):
            raise InputError(path, f"{where}.domain: expected a string")
        n = p.get("n_predict")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            raise InputError(path, f"{where}.n_predict: expected a whole number >= 0")
        out.append(PlannedPrompt(pid, text, domain, n))
    return PromptPlan(experiment, out)
