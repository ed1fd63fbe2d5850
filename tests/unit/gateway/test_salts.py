"""The salts of version 2 leaves: drawn for a whole batch at once, each its own."""

from __future__ import annotations

from gateway.leaves import SALT_SIZE, fresh_salts, new_salt


def test_a_batch_of_salts_holds_distinct_salts_of_the_salt_size() -> None:
    salts = fresh_salts(500)
    assert len(salts) == 500
    assert {len(s) for s in salts} == {SALT_SIZE} == {len(new_salt())}
    assert len(set(salts)) == 500
    assert fresh_salts(0) == []
