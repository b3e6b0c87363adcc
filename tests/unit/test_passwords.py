"""Password rules and Argon2 hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from fleet_manager.accounts.passwords import (
    WeakPasswordError,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

GOOD = "violet tractor hums"


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        pytest.param(GOOD, "alice", None, id="good"),
        pytest.param("short pass", "alice", "at least 12 characters (it has 10)", id="short"),
        pytest.param("x" * 257 + "yz", "alice", "at most 256", id="absurdly-long"),
        pytest.param("alice-the-ops-lead", "alice", "username", id="contains-username"),
        pytest.param("ALICE-the-ops-lead", "alice", "username", id="contains-username-case"),
        pytest.param("password1234", "alice", "most common", id="common"),
        pytest.param("Password1234!", "alice", "most common", id="common-with-suffix"),
        pytest.param("qwertyuiop123", "alice", "most common", id="keyboard-walk"),
        pytest.param("abababababab", "alice", "repeat", id="two-characters-repeated"),
    ],
)
def test_password_rules(password: str, username: str, problem: str | None) -> None:
    found = password_problems(password, username)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_hash_refuses_a_weak_password_with_every_reason() -> None:
    with pytest.raises(WeakPasswordError) as caught:
        hash_password("alice", "alice")
    assert "at least 12" in str(caught.value) and "username" in str(caught.value)


@pytest.mark.parametrize(
    ("stored", "given", "ok"),
    [
        pytest.param("good", GOOD, True, id="right"),
        pytest.param("good", GOOD + " ", False, id="wrong"),
        pytest.param(None, GOOD, False, id="no-hash"),
        pytest.param("damaged", GOOD, False, id="damaged-hash"),
        pytest.param("good", "x" * 10_000, False, id="huge-input-not-hashed"),
    ],
)
def test_verify(stored: str | None, given: str, ok: bool) -> None:
    hashes = {"good": hash_password(GOOD, "alice"), "damaged": "$argon2id$v=19$garbage"}
    assert verify_password(None if stored is None else hashes[stored], given) is ok


def test_hash_is_argon2id_and_salted() -> None:
    first, second = hash_password(GOOD, "alice"), hash_password(GOOD, "alice")
    assert first.startswith("$argon2id$") and first != second
    assert not needs_rehash(first)


def test_weaker_parameters_need_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(GOOD)
    assert needs_rehash(weak) and verify_password(weak, GOOD)
    assert needs_rehash("not a hash")
