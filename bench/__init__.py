"""The project's two benchmarks (bench/README.md):

- the cost benchmark, ``python bench/run_all.py`` (``run_all`` and the
  ``bench_*`` scripts, their helpers in ``common``): what distillation
  costs in time and memory against its parts;
- the effectiveness benchmark, ``bash tools/effectiveness.sh`` (=
  ``python -m bench.effectiveness``): what each method gives against its
  same-budget baseline.

Threads and child processes, the same for both: ``process``.
"""
