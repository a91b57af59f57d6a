"""Outside the test suite's setting, passwords are hashed with argon2id's default parameters
(64 MiB, 3 passes), and the suite's cheap hashes are still verified by them."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os
os.environ.pop("SMARTCAT_TEST_FAST_PASSWORD_HASH", None)
from argon2 import extract_parameters
from item_bank.security import hash_password, verify_password
stored = hash_password("rahasia-123")
p = extract_parameters(stored)
print(p.type.name, p.memory_cost, p.time_cost)
print(verify_password(stored, "rahasia-123"), verify_password(stored, "salah-1234"))
"""


def test_default_parameters_outside_the_suite():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "ID 65536 3"
    assert out[1] == "True False"


def test_the_suite_hashes_cheaply():
    from argon2 import extract_parameters

    from item_bank.security import hash_password
    assert extract_parameters(hash_password("rahasia-123")).memory_cost == 8
