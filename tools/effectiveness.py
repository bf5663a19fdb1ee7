"""The effectiveness benchmark's former entry point, kept for old command
lines: it runs ``python -m bench.effectiveness`` (the package bench/
effectiveness/; ``bash tools/effectiveness.sh`` is the documented
command) with the same arguments."""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench.effectiveness.command import main  # noqa: E402

if __name__ == '__main__':
    main()
