# SPDX-License-Identifier: GPL-2.0-or-later
"""The one main() of the Python test files.

Runs the file's unittest cases verbosely and ends with one
"SKIPPED: <test id>: <reason>" line per skipped test and the closing line
"N passed, M failed, K skipped". scripts/test reads the SKIPPED lines of
every test's output and fails the run for any skip that tests/skips-allowed
does not list: a skip is a failure unless it is written down why.

    sys.path.insert(0, <tests dir>); import testmain; sys.exit(testmain.main())
"""
import sys
import unittest


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    names = [a for a in argv if not a.startswith("-")]  # "-v" and the like: verbose is the default
    module = sys.modules["__main__"]
    loader = unittest.defaultTestLoader
    suite = loader.loadTestsFromNames(names, module) if names else loader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = set()
    for test, _ in result.failures + result.errors:
        failed.add(getattr(test, "test_case", test).id())  # subtests count once per test
    failed |= {t.id() for t in result.unexpectedSuccesses}
    for test, reason in result.skipped:
        # A class or module skipped in its setUp has an id with spaces
        # ("setUpClass (__main__.A)"): one token, so the allow-list can name it.
        print("SKIPPED: %s: %s" % (test.id().removeprefix("__main__.").replace(" ", "_"), reason))
    skipped = len(result.skipped)
    passed = result.testsRun - len(failed) - skipped
    if result.testsRun == 0:
        print("no test ran")
        return 1
    print("%d passed, %d failed, %d skipped" % (passed, len(failed), skipped))
    return 1 if failed else 0
