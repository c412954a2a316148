"""tools/train_bbcu.py --init: training continues from released weights (an exported .safetensors or a .pth)."""

import os
import subprocess
import sys
import tempfile
import unittest

TESTS = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(TESTS)
sys.path.insert(0, TOOLS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import safetensors_io  # noqa: E402

TRAIN = os.path.join(TOOLS, "train_bbcu.py")
TINY = ["--arch", "dncnn", "--task", "denoise", "--arg", "nc=4", "--arg", "nb=3", "--arg", "k=8",
        "--batch", "2", "--patch", "16", "--threads", "1", "--print-every", "1", "--save-every", "1"]


def train(*argv):
    p = subprocess.run([sys.executable, TRAIN] + TINY + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode != 0:
        raise AssertionError("train_bbcu.py failed:\n" + p.stdout)
    return p.stdout


class InitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.first = os.path.join(cls.tmp.name, "first")
        cls.log = train("--iters", "1", "--out", cls.first)
        cls.weights = torch.load(cls.first + ".pth", map_location="cpu")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_init_from_a_pth_at_its_iteration_keeps_the_weights(self):
        # --init-iter equal to --iters: nothing left to train, so the saved weights are the initial ones.
        out = os.path.join(self.tmp.name, "again")
        log = train("--iters", "1", "--init", self.first + ".pth", "--init-iter", "1", "--out", out)
        self.assertIn("starting from %s at iteration 1" % (self.first + ".pth"), log)
        again = torch.load(out + ".pth", map_location="cpu")
        self.assertEqual(sorted(again), sorted(self.weights))
        for name in self.weights:
            self.assertTrue(torch.equal(again[name], self.weights[name]), name)

    def test_init_from_an_exported_safetensors_continues_the_schedule(self):
        st = os.path.join(self.tmp.name, "released.safetensors")
        safetensors_io.save(st, {k: v.numpy() for k, v in self.weights.items()})
        out = os.path.join(self.tmp.name, "more")
        log = train("--iters", "3", "--halve-every", "2", "--init", st, "--init-iter", "1", "--out", out)
        self.assertIn("starting from %s at iteration 1" % st, log)
        # Iterations 2 and 3 only; the second is past the halving at 2.
        self.assertRegex(log, r"iter +2  lr 1\.00e-03")
        self.assertRegex(log, r"iter +3  lr 5\.00e-04")
        self.assertNotRegex(log, r"iter +1 ")
        trained = torch.load(out + ".pth", map_location="cpu")
        self.assertTrue(any(not torch.equal(trained[n], self.weights[n]) for n in self.weights), "two iterations changed nothing")


if __name__ == "__main__":
    unittest.main()
