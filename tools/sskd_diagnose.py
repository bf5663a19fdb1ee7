r"""Per-stage evidence of an SSKD run: what each trained stage gives.

    python tools/sskd_diagnose.py configs/sskd/sskd_r18w8_r18w16_mnist5k.py \
        work_dirs/sskd_r18w8_r18w16_mnist5k/epoch_10.pth ... --out diag.json

For every checkpoint (an SSKD training checkpoint; the stage schedule saved
in it tells which stages are trained) and every trained stage ``j``, on the
training digits (through the test pipeline) and the validation digits of the
config:

- ``rel_mse``: the stage loss's distance ``mean((c - t)^2)`` over the val
  digits divided by the teacher map's variance (every element about its
  channel's mean), where ``c`` is the connector's output (what the loss
  sees) and ``t`` the teacher's stage map: 1.0 is what a map equal to the
  teacher's channel means would score;
- the student's *raw* stage map ``s`` (what the next stage and, after the
  last stage, the head see) against ``c``: ``dead`` (fraction of ``s``'s
  channels that are zero on more than 99% of val positions), ``eff_rank``
  (participation ratio of the channel covariance, of ``s``, ``c`` and
  ``t``), ``rms`` of ``s``, ``c`` and ``t``;
- the quality of each map as a feature: linear probe and cosine k-NN
  (k=20) top-1 on its global average pool, fitted on the training digits
  and scored on the val digits (``kd_plugins.downstream.backbone_eval``).
  ``s`` of stage ``j`` is the frozen prefix's output once stage ``j`` is
  trained.

With ``--teacher-only`` (no checkpoint needed) only the teacher's rows.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

import kd_plugins  # noqa: F401  (registrations)
from kd_plugins.downstream.backbone_eval import (
    knn_loaders,
    knn_predict,
    linear_probe_top1,
)
from kd_plugins.methods.sskd.sskd import HEAD
from kd_plugins.registry import MODELS


def channel_stats(x: torch.Tensor) -> Dict[str, float]:
    """``x``: N x C x H x W. Variance about the channel means, dead-channel
    fraction, participation ratio of the channel covariance, RMS."""
    flat = x.transpose(0, 1).flatten(1).double()  # C x (N H W)
    centred = flat - flat.mean(1, keepdim=True)
    cov = centred @ centred.t() / flat.shape[1]  # C x C
    eig = torch.linalg.eigvalsh(cov).clamp_min(0)
    eff_rank = float(eig.sum() ** 2 / (eig ** 2).sum().clamp_min(1e-30))
    zero_frac = (flat == 0).double().mean(1)
    return dict(var=float(centred.pow(2).mean()),
                dead=float((zero_frac > 0.99).double().mean()),
                eff_rank=eff_rank,
                rms=float(flat.pow(2).mean().sqrt()))


def feature_scores(train: torch.Tensor, train_y: torch.Tensor,
                   val: torch.Tensor, val_y: torch.Tensor) -> Dict:
    pred = knn_predict(train, train_y, val, 20, 0.07, 10)
    return dict(probe=linear_probe_top1(train, train_y, val, val_y),
                knn=100.0 * float((pred == val_y).float().mean()))


@torch.no_grad()
def stage_maps(model, loader, upto: int, keep_maps: bool):
    """Per stage ``j <= upto``: pooled raw / connector / teacher features
    and (``keep_maps``) the full maps; labels; own-head predictions."""
    pooled = {k: [[] for _ in range(upto + 1)] for k in ('s', 'c', 't')}
    maps = {k: [[] for _ in range(upto + 1)] for k in ('s', 'c', 't')}
    labels, head_pred = [], []
    for data in loader:
        data = model.data_preprocessor(data, False)
        inputs = data['inputs']
        t_feats = model.teacher.run(model._teacher_prefix.run,
                                    model.teacher.prepare(inputs), upto)
        s_feats = model._student_prefix.run(inputs, upto)
        for j in range(upto + 1):
            s, t = s_feats[j], t_feats[j]
            r = s if s.shape[2:] == t.shape[2:] else F.interpolate(
                s, size=t.shape[2:], mode='bilinear', align_corners=False)
            c, t = model.connectors[j](r, t)
            for k, v in (('s', s), ('c', c), ('t', t)):
                pooled[k][j].append(v.mean((2, 3)))
                if keep_maps:
                    maps[k][j].append(v)
        labels.append(torch.cat([d.gt_label for d in data['data_samples']]))
        feats = model.student.extract_feat(inputs)
        head_pred.append(model.student.head(feats).argmax(1))
    cat = {k: [torch.cat(v) for v in lists] for k, lists in pooled.items()}
    full = {k: [torch.cat(v) for v in lists] for k, lists in maps.items()} \
        if keep_maps else None
    return cat, full, torch.cat(labels), torch.cat(head_pred)


def diagnose(model, bank, val, stages: int, with_head: bool) -> Dict:
    model.eval()
    upto = stages - 1
    tr, _, tr_y, _ = stage_maps(model, bank, upto, keep_maps=False)
    va, maps, va_y, head = stage_maps(model, val, upto, keep_maps=True)
    rows = []
    for j in range(stages):
        t = maps['t'][j]
        t_stats = channel_stats(t)
        row = dict(stage=j + 1, rel_mse=float(
            (maps['c'][j] - t).pow(2).mean()) / t_stats['var'])
        for k in ('s', 'c', 't'):
            row[k] = dict(channel_stats(maps[k][j]) if k != 't' else t_stats,
                          **feature_scores(tr[k][j], tr_y, va[k][j], va_y))
        rows.append(row)
    out = dict(stages=rows)
    if with_head:
        out['own_head'] = 100.0 * float((head == va_y).float().mean())
    return out


def trained_stages(ckpt: Dict, num_stages: int, mode: str):
    state = ckpt.get('sskd_schedule')
    if state is None:
        raise SystemExit('not an SSKD training checkpoint (no schedule '
                         'state in it)')
    if state['phase'] == HEAD:
        return num_stages, state['epoch_in_phase'] > 0
    return (num_stages if mode == 'multi_loss' and state['epoch_in_phase']
            else state['phase']), False


def fmt(rows: List[Dict]) -> str:
    lines = ['stage | rel_mse | dead s | eff_rank s/c/t | rms s/c/t | '
             'probe s/c/t | knn s/c/t']
    for r in rows:
        s, c, t = r['s'], r['c'], r['t']
        lines.append(
            f"{r['stage']} | {r['rel_mse']:.3f} | {s['dead']:.2f} | "
            f"{s['eff_rank']:.1f}/{c['eff_rank']:.1f}/{t['eff_rank']:.1f} | "
            f"{s['rms']:.3f}/{c['rms']:.3f}/{t['rms']:.3f} | "
            f"{s['probe']:.1f}/{c['probe']:.1f}/{t['probe']:.1f} | "
            f"{s['knn']:.1f}/{c['knn']:.1f}/{t['knn']:.1f}")
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='the SSKD training config')
    parser.add_argument('checkpoints', nargs='*',
                        help='SSKD training checkpoints (epoch_N.pth)')
    parser.add_argument('--teacher-only', action='store_true')
    parser.add_argument('--out', help='write every figure to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if not args.checkpoints and not args.teacher_only:
        parser.error('give checkpoints or --teacher-only')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].update(num_workers=0, persistent_workers=False)
    if cfg.get('data_preprocessor', None) is not None:  # as the Runner
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope',
                                                      'kd_plugins')):
        model = MODELS.build(cfg.model)
    bank, val = knn_loaders(cfg)
    results = {}
    if args.teacher_only:
        res = diagnose(model, bank, val, model.num_stages, False)
        results['teacher'] = [dict(stage=r['stage'], **r['t'])
                              for r in res['stages']]
        for r in results['teacher']:
            print(f"teacher stage {r['stage']}: probe {r['probe']:.1f} "
                  f"knn {r['knn']:.1f} eff_rank {r['eff_rank']:.1f} "
                  f"dead {r['dead']:.2f} rms {r['rms']:.3f}")
    for path in args.checkpoints:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
        model.load_state_dict(ckpt['state_dict'], strict=True)
        stages, head = trained_stages(ckpt, model.num_stages, model.mode)
        if stages == 0:
            print(f'{path}: no stage trained yet, skipped')
            continue
        res = diagnose(model, bank, val, stages, head)
        results[path] = res
        print(f'\n{path} ({model.mode}, {stages} stage(s) trained'
              + (f", own head {res['own_head']:.1f}" if head else '') + ')')
        print(fmt(res['stages']))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
