import pytest

from warehouse.db.lookup import pick
from warehouse.errors import UsageError

ROWS = [("ab12", "code"), ("ab34", "math"), ("cd56", "ab12x"), ("ef78", "twin"), ("ef79", "twin")]


def test_exact_id_then_unique_name_then_unique_prefix():
    assert pick(ROWS, "ab12", "run") == ("ab12", "code")
    assert pick(ROWS, "ab12x", "run") == ("cd56", "ab12x")  # a name, though "ab12" prefixes it
    assert pick(ROWS, "math", "run") == ("ab34", "math")
    assert pick(ROWS, "cd", "run") == ("cd56", "ab12x")


@pytest.mark.parametrize("spec, message", [
    ("ab", "run 'ab' matches 2 runs (ab12, ab34)"),
    ("twin", "run 'twin' matches 2 runs (ef78, ef79)"),
    ("zz", "no run matches 'zz'"),
])
def test_ambiguous_or_unknown_names_are_refused(spec, message):
    with pytest.raises(UsageError) as exc:
        pick(ROWS, spec, "run")
    assert message in str(exc.value)
