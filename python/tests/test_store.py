"""Where the package looks for the store and what it refuses; reading a real store is checked with
the real binaries (Tests/IntegrationTests/PythonPackageTests.swift)."""

import os
import sqlite3
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orch  # noqa: E402


class HomeTests(unittest.TestCase):
    def test_home_is_resolved_as_the_cli_resolves_it(self):
        with mock.patch.dict(os.environ, {"ORCH_HOME": "/srv/orch", "HOME": "/home/u"}):
            self.assertEqual(orch.home(), "/srv/orch")
        with mock.patch.dict(os.environ, {"ORCH_HOME": "", "HOME": "/home/u"}):
            self.assertEqual(orch.home(), "/home/u/.local/state/orch")  # empty is unset
        with mock.patch.dict(os.environ, {"ORCH_HOME": "rel/home"}):
            self.assertEqual(orch.home(), os.path.join(os.getcwd(), "rel/home"))

    def test_a_missing_store_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as home:
            with self.assertRaisesRegex(FileNotFoundError, "no orch store at"):
                orch.results("demo", orch_home=home)

    def make_store(self, home):
        db = sqlite3.connect(os.path.join(home, "orch.db"))
        db.execute("CREATE TABLE t(x)")
        db.commit()
        db.close()

    def test_a_home_writable_by_others_is_refused_before_its_store_is_read(self):
        with tempfile.TemporaryDirectory() as home:
            self.make_store(home)
            os.chmod(home, 0o777)
            with self.assertRaisesRegex(PermissionError, "writable by group or others"):
                orch.connect(home)
            os.chmod(home, 0o700)
            orch.connect(home).close()

    def test_the_connection_is_read_only(self):
        with tempfile.TemporaryDirectory() as home:
            os.chmod(home, 0o700)
            self.make_store(home)
            db = orch.connect(home)
            with self.assertRaises(sqlite3.OperationalError):
                db.execute("INSERT INTO t VALUES (1)")
            db.close()


if __name__ == "__main__":
    unittest.main()
