"""The count that the Python integration suites keep (geojson_supercluster.py,
hierarchy_properties.py, hierarchy_tiles.py, postgis_mvt.py): a FAIL line for each failed check
as it happens (an ok line for each passed one, in a suite that prints them), and the suites'
last line, `N passed, M failed`."""


class Tally:
    def __init__(self, print_ok=False):
        self.passed = 0
        self.failed = 0
        self.print_ok = print_ok

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.print_ok:
                print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)

    def done(self):
        """Prints the last line; returns the exit status (0 when no check failed)."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1
