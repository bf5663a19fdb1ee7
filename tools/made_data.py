"""Small detection and segmentation data sets of drawn shapes.

Squares, circles and triangles of random size, colour and place on noisy
backgrounds, written in the on-disk formats the toolboxes read:

- ``ROOT/coco/``: COCO detection (``train/``, ``val/`` images,
  ``annotations/instances_{train,val}.json`` with boxes, polygon masks and
  areas), read by mmdet's ``CocoDataset`` and scored by ``CocoMetric``;
- ``ROOT/seg/``: mmseg's folder format (``img_dir/{train,val}/*.png``,
  ``ann_dir/{train,val}/*.png`` holding the class index per pixel,
  0 = background), read by mmseg's ``BaseSegDataset``, scored by
  ``IoUMetric``.

:func:`apply_made_data` points an mmdet or mmseg config at them (small
images, few iterations) without touching its model, so that the toolbox's
own detector or segmentor trains and evaluates on the CPU in seconds.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np
from mmengine.config import Config, ConfigDict

CLASSES = ('square', 'circle', 'triangle')
SEG_CLASSES = ('background', ) + CLASSES
SEG_PALETTE = [[0, 0, 0], [220, 20, 60], [0, 128, 255], [60, 180, 75]]


def _shape_polygon(rng: np.random.Generator, kind: int, size: int
                   ) -> np.ndarray:
    """Vertices (N x 2, int32) of one shape that fits in a size x size image.
    """
    side = int(rng.integers(size // 5, size // 2))
    x0 = int(rng.integers(0, size - side))
    y0 = int(rng.integers(0, size - side))
    if kind == 0:  # square
        pts = [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side),
               (x0, y0 + side)]
    elif kind == 1:  # circle, as a 32-gon so that mask == polygon
        r = side / 2
        cx, cy = x0 + r, y0 + r
        pts = [(cx + r * math.cos(2 * math.pi * i / 32),
                cy + r * math.sin(2 * math.pi * i / 32)) for i in range(32)]
    else:  # triangle
        pts = [(x0 + side / 2, y0), (x0 + side, y0 + side), (x0, y0 + side)]
    return np.round(np.array(pts, dtype=np.float64)).astype(np.int32)


def draw_image(rng: np.random.Generator, size: int, max_shapes: int = 3
               ) -> Tuple[np.ndarray, np.ndarray, List[Dict]]:
    """One image (H x W x 3 BGR), its class map (H x W) and its instances.

    Later shapes are drawn over earlier ones; each instance's mask is what
    stays visible, and its box bounds that mask.
    """
    img = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    classes = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int32)
    drawn = []
    for i in range(int(rng.integers(1, max_shapes + 1))):
        kind = int(rng.integers(0, len(CLASSES)))
        poly = _shape_polygon(rng, kind, size)
        color = tuple(int(c) for c in rng.integers(100, 256, 3))
        cv2.fillPoly(img, [poly], color)
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [poly], 1)
        classes[mask > 0] = kind + 1
        owner[mask > 0] = i
        drawn.append((kind, poly))
    instances = []
    for i, (kind, poly) in enumerate(drawn):
        visible = owner == i
        if visible.sum() < 16:
            continue  # hidden under later shapes
        ys, xs = np.nonzero(visible)
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        instances.append(dict(
            category_id=kind + 1,
            bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
            area=float(visible.sum()),
            segmentation=[[float(v) for v in poly.reshape(-1)]],
            iscrowd=0))
    return img, classes, instances


def write_coco_shapes(root: str, num_train: int = 16, num_val: int = 8,
                      size: int = 96, seed: int = 0) -> str:
    """Write COCO-format detection data under ``root``; returns ``root``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(n):
            img, _, instances = draw_image(rng, size)
            name = f'{split}_{i:05d}.png'
            cv2.imwrite(osp.join(root, split, name), img)
            images.append(dict(id=i + 1, file_name=name, width=size,
                               height=size))
            for inst in instances:
                anns.append(dict(inst, id=len(anns) + 1, image_id=i + 1))
        coco = dict(images=images, annotations=anns,
                    categories=[dict(id=i + 1, name=c)
                                for i, c in enumerate(CLASSES)])
        with open(osp.join(root, 'annotations',
                           f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)
    return root


def write_seg_shapes(root: str, num_train: int = 16, num_val: int = 8,
                     size: int = 96, seed: int = 0) -> str:
    """Write mmseg folder-format segmentation data under ``root``."""
    rng = np.random.default_rng(seed + 1)
    for split, n in (('train', num_train), ('val', num_val)):
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(n):
            img, classes, _ = draw_image(rng, size)
            name = f'{split}_{i:05d}.png'
            cv2.imwrite(osp.join(root, 'img_dir', split, name), img)
            cv2.imwrite(osp.join(root, 'ann_dir', split, name), classes)
    return root


def write_shapes(root: str, num_train: int = 16, num_val: int = 8,
                 size: int = 96, seed: int = 0) -> Tuple[str, str]:
    """Both data sets: ``(ROOT/coco, ROOT/seg)``."""
    return (write_coco_shapes(osp.join(root, 'coco'), num_train, num_val,
                              size, seed),
            write_seg_shapes(osp.join(root, 'seg'), num_train, num_val,
                             size, seed))


def _set_everywhere(node, key: str, value) -> int:
    """Set ``key`` to ``value`` in every dict under ``node``; count them."""
    count = 0
    if isinstance(node, dict):
        for k in list(node):
            if k == key:
                node[k] = value
                count += 1
            else:
                count += _set_everywhere(node[k], key, value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            count += _set_everywhere(item, key, value)
    return count


def _loader(dataset: dict, batch_size: int, shuffle: bool,
            sampler: str = 'DefaultSampler') -> ConfigDict:
    return ConfigDict(batch_size=batch_size, num_workers=0,
                      persistent_workers=False, drop_last=False,
                      sampler=dict(type=sampler, shuffle=shuffle),
                      dataset=dataset)


def _apply_detection(cfg: Config, root: str, size: int,
                     batch_size: int) -> None:
    root = osp.abspath(osp.join(root, 'coco'))
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(size, size), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(size, size), keep_ratio=True),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs',
             meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor'))]

    def dataset(split, pipeline):
        return dict(type='CocoDataset', data_root=root,
                    ann_file=f'annotations/instances_{split}.json',
                    data_prefix=dict(img=f'{split}/'),
                    metainfo=dict(classes=CLASSES),
                    filter_cfg=dict(filter_empty_gt=True, min_size=4),
                    test_mode=split != 'train', pipeline=pipeline)

    cfg.train_dataloader = _loader(dataset('train', train_pipeline),
                                   batch_size, True)
    cfg.val_dataloader = _loader(dataset('val', test_pipeline), 1, False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = ConfigDict(
        type='CocoMetric', metric='bbox', format_only=False,
        ann_file=osp.join(root, 'annotations', 'instances_val.json'))
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = ConfigDict(type='EpochBasedTrainLoop', max_epochs=1,
                               val_interval=1)
    _set_everywhere(cfg.model, 'num_classes', len(CLASSES))
    # Keep every detection of a barely trained model, so that the evaluator
    # always has boxes to score.
    _set_everywhere(cfg.model.get('test_cfg', {}), 'score_thr', 0.0)
    _set_everywhere(cfg.model.get('test_cfg', {}), 'conf_thr', 0.0)


def _apply_segmentation(cfg: Config, root: str, size: int, batch_size: int,
                        iters: int) -> None:
    root = osp.abspath(osp.join(root, 'seg'))
    train_pipeline = [dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations'),
                      dict(type='RandomFlip', prob=0.5),
                      dict(type='PackSegInputs')]
    test_pipeline = [dict(type='LoadImageFromFile'),
                     dict(type='LoadAnnotations'),
                     dict(type='PackSegInputs')]

    def dataset(split, pipeline):
        return dict(type='BaseSegDataset', data_root=root,
                    data_prefix=dict(img_path=f'img_dir/{split}',
                                     seg_map_path=f'ann_dir/{split}'),
                    img_suffix='.png', seg_map_suffix='.png',
                    metainfo=dict(classes=SEG_CLASSES, palette=SEG_PALETTE),
                    pipeline=pipeline)

    cfg.train_dataloader = _loader(dataset('train', train_pipeline),
                                   batch_size, True, 'InfiniteSampler')
    cfg.val_dataloader = _loader(dataset('val', test_pipeline), 1, False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator = ConfigDict(type='IoUMetric', iou_metrics=['mIoU'])
    cfg.test_evaluator = cfg.val_evaluator
    cfg.train_cfg = ConfigDict(type='IterBasedTrainLoop', max_iters=iters,
                               val_interval=iters)
    if cfg.model.get('data_preprocessor') is not None:
        cfg.model.data_preprocessor.size = (size, size)
    _set_everywhere(cfg.model, 'num_classes', len(SEG_CLASSES))
    cfg.default_hooks.checkpoint.interval = iters


def apply_made_data(cfg: Config, root: str, size: int = 96,
                    batch_size: int = 2, iters: int = 3) -> Config:
    """Point an mmdet or mmseg config at the drawn-shape data under ``root``.

    The model (backbone, neck, heads, losses) stays the config's own, but for
    its number of classes. mmdet: one epoch over ``ROOT/coco/train``, scored
    by ``CocoMetric``; mmseg: ``iters`` iterations on ``ROOT/seg``, scored by
    ``IoUMetric``. Images are resized to ``size``.
    """
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        _apply_detection(cfg, root, size, batch_size)
    elif scope == 'mmseg':
        _apply_segmentation(cfg, root, size, batch_size, iters)
    else:
        raise ValueError(f'made data serves mmdet and mmseg configs; this '
                         f'one has default_scope={scope!r}')
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    return cfg
