#!/usr/bin/env python3
"""report.py's table says what the run measured: a --quick run's rows name
its own counts, not the full run's. Standard library only:
    python3 bench/test_report.py
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def spread(median, runs):
    return {"median": median, "min": median, "max": median, "runs": runs}


def calls_json(quick):
    runs, calls, warm, per_run = (1, 600, 300, 200) if quick else (5, 10000, 5000, 2000)
    return {
        "idle_cpu_ms_per_s": 0.5,
        "cpu": {"calls_per_run": per_run, "concurrency": 10, "failed": 0, "per_call_ms": spread(1.3, runs),
                "base_call_ms": spread(0.6, runs), "wait_call_ms": spread(0.9, runs), "module_ms": spread(0.4, runs)},
        "memory": {"calls": calls, "warm_calls": warm, "failed": 0, "rss_at_start_mib": 49.0,
                   "rss_after_warm_mib": 80.0, "rss_after_load_mib": 86.0, "rss_half_mib": 90.0, "rss_end_mib": 90.2,
                   "growth_since_load_mib": 4.2, "growth_second_half_mib": 0.2},
    }


def table(quick):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "calls.json"), "w") as f:
            json.dump(calls_json(quick), f)
        mode = "quick" if quick else "full"
        out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--dir", d, "--mode", mode,
                              "--seconds", "80"], capture_output=True, text=True, check=True)
        return out.stdout


def row(text, figure):
    return next(l for l in text.splitlines() if l.startswith(f"| {figure}"))


class QuickTableSaysWhatRan(unittest.TestCase):
    def test_quick_memory_row_names_its_own_counts(self):
        r = row(table(quick=True), "Asterisk RSS over 600 calls")
        self.assertIn("flat from 300 to 600", r)
        self.assertNotIn("5 000", r)
        self.assertNotIn("10 000", r)

    def test_quick_cpu_row_is_one_run_not_a_median(self):
        r = row(table(quick=True), "PBX CPU per call")
        self.assertIn("one run", r)
        self.assertNotIn("median of 1 runs", r)

    def test_full_rows_unchanged(self):
        t = table(quick=False)
        self.assertIn("flat from 5 000 to 10 000", row(t, "Asterisk RSS over 10000 calls"))
        self.assertIn("median of 5 runs", row(t, "PBX CPU per call"))


if __name__ == "__main__":
    unittest.main()
