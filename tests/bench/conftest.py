"""The benchmarks' tests import the ``bench`` package from the repository
root, whichever directory pytest was started from."""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
