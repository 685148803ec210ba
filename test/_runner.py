"""Run a test module with unittest and end with "N passed, N failed".

scripts/test.sh skips files whose names start with "_", so this module only
runs through the test files that import it.
"""

import sys
import unittest


class CountingResult(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main(module_name):
    """Run every test in the module, print the summary line and exit."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    total = suite.countTestCases()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=CountingResult)
    result = runner.run(suite)
    # A method with a failing subtest never reaches addSuccess, so it counts once.
    failed = total - result.passed - len(result.skipped)
    print(f'{result.passed} passed, {failed} failed', flush=True)
    sys.exit(0 if failed == 0 and result.wasSuccessful() else 1)
