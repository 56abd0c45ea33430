"""Runs every integration test module and prints a plain closing line.

Needs root (it loads wsgitrace's probes) and Debian's gunicorn, uWSGI,
nginx and Prometheus; `make test` installs them first.
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    if os.geteuid() != 0:
        print("integration tests load BPF probes: run them as root", file=sys.stderr)
        return 2
    pattern = os.environ.get("WT_TESTS", "test_*.py")
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    run = result.testsRun
    # setUpClass errors are not among testsRun: count them as failed, and no test of it passed.
    passed = max(0, run - len(result.failures) - sum(1 for t, _ in result.errors
                                                     if hasattr(t, "_testMethodName")) - len(result.skipped))
    print("integration: %d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
    if run == 0:
        print("integration: no test ran", file=sys.stderr)
        return 1
    return 0 if failed == 0 and not result.skipped else 1


if __name__ == "__main__":
    sys.exit(main())
