"""SSLD's unlabeled-data mining (paper, Sec. 3.3.4), as a library function.

1. Drop gallery images that are near-duplicates of the validation set
   (thumbnail correlation >= ``max_correlation``; see
   :mod:`.thumbnail_ncc`).
2. Run the frozen teacher over the remaining images (with a progress bar).
3. Group images by the teacher's predicted class and keep the ``topk`` most
   confident per class.
4. Write the kept relative paths, one per line, to ``out`` (the
   ``ann_file`` of :class:`~kd_plugins.datasets.UnlabeledImageFolder`), and a
   CSV beside it with the predicted class and confidence of each kept image.

Re-running is safe and resumes: teacher predictions are saved every few
batches to ``<out>.cache.npz`` together with a fingerprint of the teacher
checkpoint and the gallery, and reused when both still match. Output files are
written to a temporary name and renamed, so they are never half-written.
"""
import csv
import hashlib
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Subset

from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.datasets import UnlabeledImageFolder
from kd_plugins.methods.ssld.thumbnail_ncc import (
    max_correlation,
    thumbnail_file,
)


@dataclass
class MiningResult:
    num_gallery: int
    num_duplicates: int
    num_kept: int
    per_class: Dict[int, int] = field(default_factory=dict)
    ann_file: str = ''
    table_file: str = ''


def _thumbnails(paths: List[str], what: str) -> np.ndarray:
    print(f'thumbnails of {len(paths)} {what} images')
    bar = ProgressBar(len(paths), file=sys.stdout)
    rows = []
    for p in paths:
        rows.append(thumbnail_file(p))
        bar.update()
    print()
    return np.stack(rows)


def _max_corr_streamed(paths: List[str], val_thumbs: np.ndarray,
                       chunk: int = 1024) -> np.ndarray:
    """Highest correlation of each gallery image with the validation set,
    holding one chunk of gallery thumbnails at a time."""
    print(f'comparing {len(paths)} gallery images with the validation set')
    bar = ProgressBar(len(paths), file=sys.stdout)
    out = np.empty(len(paths), dtype=np.float32)
    for s in range(0, len(paths), chunk):
        part = paths[s:s + chunk]
        out[s:s + len(part)] = max_correlation(
            np.stack([thumbnail_file(p) for p in part]), val_thumbs)
        bar.update(len(part))
    print()
    return out


def _fingerprint(teacher_ckpt: str, gallery_paths: List[str]) -> str:
    st = os.stat(teacher_ckpt) if osp.isfile(teacher_ckpt) else None
    h = hashlib.sha1()
    h.update(osp.abspath(teacher_ckpt).encode())
    if st is not None:
        h.update(f'{st.st_size}:{st.st_mtime_ns}'.encode())
    for p in gallery_paths:
        h.update(p.encode())
    return h.hexdigest()


def _atomic_write(path: str, write: Callable[[str], None]) -> None:
    tmp = path + '.tmp'
    write(tmp)
    os.replace(tmp, path)


def _save_cache(path: str, fingerprint: str, pred: np.ndarray,
                conf: np.ndarray) -> None:
    def write(tmp):
        with open(tmp, 'wb') as f:
            np.savez(f, fingerprint=np.array(fingerprint), pred=pred,
                     conf=conf)
    _atomic_write(path, write)


def _load_cache(path: str, fingerprint: str, n: int):
    if not osp.isfile(path):
        return None
    data = np.load(path)
    if str(data['fingerprint']) != fingerprint or len(data['pred']) != n:
        print(f'ignoring {path}: made with another teacher or gallery')
        return None
    return data['pred'].copy(), data['conf'].copy()


def mine_unlabeled(teacher: dict, teacher_ckpt: str, pipeline: List[dict],
                   data_preprocessor: Optional[dict], gallery: str, val: str,
                   out: str, topk: int, dup_threshold: float = 0.995,
                   batch_size: int = 64, num_workers: int = 2,
                   device: str = 'cpu', save_every: int = 20
                   ) -> MiningResult:
    """Mine ``gallery`` with ``teacher``; see the module docstring."""
    if topk <= 0:
        raise ValueError(f'topk must be positive, got {topk}')
    if not -1.0 <= dup_threshold <= 1.0:
        raise ValueError(f'dup_threshold is a correlation in [-1, 1], got '
                         f'{dup_threshold}')
    # Listing both folders through the dataset class gives the same clear
    # errors as training does for missing, unreadable or empty folders.
    gallery_set = UnlabeledImageFolder(data_root=gallery, pipeline=pipeline)
    val_set = UnlabeledImageFolder(data_root=val, pipeline=[])
    g_paths = [gallery_set.get_data_info(i)['img_path']
               for i in range(len(gallery_set))]
    v_paths = [val_set.get_data_info(i)['img_path']
               for i in range(len(val_set))]

    # 1. near-duplicates of the validation set
    corr = _max_corr_streamed(g_paths, _thumbnails(v_paths, 'validation'))
    keep_idx = np.flatnonzero(corr < dup_threshold)
    num_dup = len(g_paths) - len(keep_idx)
    print(f'{num_dup} of {len(g_paths)} gallery images are near-duplicates '
          f'of the validation set (thumbnail correlation >= '
          f'{dup_threshold}); dropped')

    # 2. teacher predictions, resumable
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fingerprint = _fingerprint(teacher_ckpt, g_paths)
    cache_file = out + '.cache.npz'
    cached = _load_cache(cache_file, fingerprint, len(g_paths))
    pred, conf = cached if cached else (
        np.full(len(g_paths), -1, dtype=np.int64),
        np.zeros(len(g_paths), dtype=np.float32))
    todo = [int(i) for i in keep_idx if pred[i] < 0]
    if todo:
        preprocessor = build_data_preprocessor(data_preprocessor).to(device)
        net = build_frozen_teacher(  # in its own normalisation, if declared
            teacher, teacher_ckpt, 'eval',
            student_preprocessor=preprocessor).to(device)
        loader = DataLoader(Subset(gallery_set, todo), batch_size=batch_size,
                            num_workers=num_workers, collate_fn=pseudo_collate)
        print(f'teacher predictions for {len(todo)} images '
              f'({len(keep_idx) - len(todo)} reused from {cache_file})')
        bar = ProgressBar(len(todo), file=sys.stdout)
        pos = 0
        for step, batch in enumerate(loader):
            data = preprocessor(batch, False)
            probs = net(data['inputs']).softmax(dim=1).cpu()  # B x C
            c, p = probs.max(dim=1)
            ids = todo[pos:pos + len(p)]
            pred[ids], conf[ids] = p.numpy(), c.numpy()
            pos += len(p)
            bar.update(len(p))
            if (step + 1) % save_every == 0:
                _save_cache(cache_file, fingerprint, pred, conf)
        print()
        _save_cache(cache_file, fingerprint, pred, conf)

    # 3. top-k most confident per predicted class
    kept: List[int] = []
    per_class: Dict[int, int] = {}
    for c in sorted(set(pred[keep_idx].tolist())):
        members = keep_idx[pred[keep_idx] == c]
        best = members[np.argsort(-conf[members], kind='stable')[:topk]]
        kept.extend(best.tolist())
        per_class[int(c)] = len(best)

    # 4. outputs, written atomically
    root = gallery_set.img_prefix
    rel = [osp.relpath(g_paths[i], root) for i in kept]

    def write_list(tmp):
        with open(tmp, 'w') as f:
            f.writelines(r + '\n' for r in rel)

    def write_table(tmp):
        with open(tmp, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['path', 'predicted_class', 'confidence'])
            for r, i in zip(rel, kept):
                w.writerow([r, int(pred[i]), f'{conf[i]:.6f}'])

    table = osp.splitext(out)[0] + '.csv'
    _atomic_write(out, write_list)
    _atomic_write(table, write_table)
    return MiningResult(len(g_paths), num_dup, len(kept), per_class, out,
                        table)
