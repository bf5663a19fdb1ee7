"""Write a teacher cache: the config's frozen teacher over E epochs of its
own training data, so that training runs without the teacher.

    python tools/cache_teacher.py CONFIG --epochs E --out DIR
    bash tools/dist_cache_teacher.sh CONFIG NUM_PROCS --epochs E --out DIR
    python tools/train.py CONFIG --cfg-options model.teacher_cache=DIR

For SSLD, KDEP, SEED and SimDis (offline). Per epoch and image the cache
holds the seed that replays the image's augmented view and the method's
target (SSLD: top-k probabilities, ``--topk``; KDEP: the aligned teacher
feature, before PTS; SEED: the normalised embedding; SimDis: the teacher
pair's projections of both views), float16 unless ``--dtype float32``.
It is written in shards, several processes at once (each takes every
NUM_PROCS-th shard); run the same command again after a kill and it keeps
the finished shards and writes the rest. The cache is bound to the
teacher's weights, the dataset with its pipeline, the list of images and
the method's settings: training refuses a cache made from anything else.

``--check N`` then trains N steps from the cache and N steps with the live
teacher over the same views and prints the losses side by side
(docs/teacher_cache.md).
"""
import argparse
import os

import torch
from mmengine.config import Config, DictAction

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.cli import renamed_config


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='training config (SSLD, KDEP, SEED '
                        'or SimDis)')
    parser.add_argument('--epochs', type=int, required=True,
                        help='epochs of views to cache; a longer run '
                        'replays them (epoch e uses cached epoch e %% E)')
    parser.add_argument('--out', required=True, help='cache folder')
    parser.add_argument('--topk', type=int, default=None,
                        help='SSLD: probabilities kept per view (default '
                        '10; all classes if fewer)')
    parser.add_argument('--dtype', choices=('float16', 'float32'),
                        default='float16', help='stored float targets')
    parser.add_argument('--shard-batches', type=int, default=50,
                        help='training batches per shard')
    parser.add_argument('--seed', type=int, default=None,
                        help='base seed of the views (default: the '
                        "config's randomness.seed, else 0)")
    parser.add_argument('--device', default=None,
                        help='default: cuda (this process\'s GPU) if '
                        'there is one, else cpu')
    parser.add_argument('--procs', type=int, default=None,
                        help='writing processes in all (default: '
                        'WORLD_SIZE as torchrun sets it, else 1)')
    parser.add_argument('--proc-id', type=int, default=None,
                        help='this process (default: RANK, else 0)')
    parser.add_argument('--check', type=int, default=0, metavar='N',
                        help='then compare N training steps from the cache '
                        'with the live teacher\'s')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch'],
                        default='none', help='set by dist_cache_teacher.sh'
                        ' (the processes do not communicate)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    config = args.config
    if not os.path.isfile(config):
        config = renamed_config(config) or config
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.pop('teacher_cache', None)
    world = args.procs or int(os.environ.get('WORLD_SIZE', 1))
    rank = args.proc_id if args.proc_id is not None else \
        int(os.environ.get('RANK', 0))
    if not 0 <= rank < world:
        raise ValueError(f'--proc-id {rank} is not one of the {world} '
                         'processes (0 .. --procs - 1).')
    device = args.device
    if device is None:
        local = int(os.environ.get('LOCAL_RANK', args.local_rank))
        device = f'cuda:{local}' if torch.cuda.is_available() else 'cpu'
    from kd_plugins.core.teacher_cache.writer import write_cache
    write_cache(cfg, args.out, args.epochs, args.shard_batches, args.seed,
                args.dtype, dict(topk=args.topk), device, rank, world)
    if args.check:
        if world > 1:
            print('--check runs in a single process; run it on its own '
                  'once every process has finished.', flush=True)
            return
        from kd_plugins.core.teacher_cache.check import compare
        cached, live, diffs = compare(cfg, args.out, args.check)
        key = 'loss'
        print(f'{"step":>4}  {"from cache":>12}  {"live teacher":>12}  '
              'rel. diff', flush=True)
        for i, (c, v, d) in enumerate(zip(cached, live, diffs), 1):
            print(f'{i:>4}  {c[key]:>12.6f}  {v[key]:>12.6f}  {d:.2e}')
        print(f'largest relative difference over {len(diffs)} steps: '
              f'{max(diffs):.2e} (first step {diffs[0]:.2e})', flush=True)


if __name__ == '__main__':
    main()
