#!/usr/bin/env python3
"""Run every end-to-end test (tests/e2e/test_*.py) against the binary
named by $STREAMAVG_BIN.  Exit status 0 only when all pass."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(0 if result.wasSuccessful() else 1)
