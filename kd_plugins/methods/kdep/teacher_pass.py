"""One pass of the frozen teacher over a dataset -> KDEP's SVD basis file.

Library side of ``tools/kdep_svd.py``. The teacher (eval mode, no gradient)
runs its backbone only, on each batch mapped to its own normalisation when
it declares one; the pooled pre-ReLU feature of each image (see
:func:`~kd_plugins.methods.kdep.pre_relu.penultimate_tap`) is streamed into a
:class:`~kd_plugins.methods.kdep.basis.StreamingBasis`, so memory does not
grow with the number of images. The result is saved with the record binding
it to the teacher (config text, sha256 of its weights, tapped layer, number of
images, feature dim).

Which pipeline feeds the pass (``pipeline``):

- ``'test'`` (default): the config's deterministic test pipeline, no random
  augmentation. The same teacher and images give the same basis whatever the
  seed or the number of workers.
- ``'train'``: the training pipeline with its random augmentation, one
  augmented view per image, as the official code does (``get_svd`` runs the
  teacher over its training loader). The basis then describes the features
  the projection meets in training, at the price of depending on the
  augmentation draws (``tools/kdep_svd.py --seed`` fixes them).
"""
import copy
import pprint
import sys
import time
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple, Union

import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from kd_plugins.core.checkpoint import weights_sha256
from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.kdep.basis import (
    StreamingBasis,
    load_basis,
    save_basis,
)
from kd_plugins.methods.kdep.pre_relu import backbone_of, penultimate_tap
from kd_plugins.registry import DATASETS


def _test_pipeline_of(cfg) -> list:
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset', {}).get('pipeline'):
            return loader.dataset.pipeline
    if cfg.get('test_pipeline'):
        return cfg.test_pipeline
    raise ValueError('the config has no test_pipeline nor a test/val '
                     'dataloader pipeline to run the teacher with')


def _train_pipeline_of(cfg) -> list:
    loader = cfg.get('train_dataloader')
    if loader and loader.get('dataset', {}).get('pipeline'):
        return loader.dataset.pipeline
    if cfg.get('train_pipeline'):
        return cfg.train_pipeline
    raise ValueError('the config has no train_pipeline nor a train '
                     'dataloader pipeline to run the teacher with')


PIPELINES = {'test': _test_pipeline_of, 'train': _train_pipeline_of}


def teacher_pass_dataset(cfg, split: str = 'train',
                         pipeline: str = 'test') -> dict:
    """The ``split`` dataset config of ``cfg`` with the ``pipeline``
    (``'test'``: deterministic; ``'train'``: the training pipeline, random
    augmentation), for one pass of the teacher."""
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be 'test' or 'train', got "
                         f'{pipeline!r}')
    loader = cfg.get(f'{split}_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'the config has no {split}_dataloader; pick '
                         'another split')
    dataset = loader.dataset
    dataset = copy.deepcopy(dataset.to_dict() if hasattr(dataset, 'to_dict')
                            else dict(dataset))
    if 'pipeline' not in dataset:
        raise ValueError(
            f'{split}_dataloader.dataset ({dataset.get("type")}) has no '
            'pipeline of its own (a wrapper dataset?); point the config at '
            'a plain dataset')
    dataset['pipeline'] = PIPELINES[pipeline](cfg)
    return dataset


@dataclass
class TeacherPassInputs:
    cfg: object  # mmengine Config
    teacher: dict
    teacher_ckpt: str
    teacher_ckpt_prefix: str
    dataset: dict
    data_preprocessor: Optional[dict]


def teacher_pass_inputs(config: str, cfg_options: Optional[dict] = None,
                        checkpoint: Optional[str] = None,
                        split: str = 'train',
                        pipeline: str = 'test') -> TeacherPassInputs:
    """What the KDEP tools need from a config: the teacher, its checkpoint
    (``checkpoint`` or ``model.teacher_ckpt``), the ``split`` dataset with
    the ``pipeline`` (``'test'`` or ``'train'``) and the preprocessor.
    Raises ``SystemExit`` with the problem named, as the tools' error."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'teacher' not in cfg.model:
        raise SystemExit(f'{config} has no model.teacher')
    ckpt = checkpoint or cfg.model.get('teacher_ckpt')
    if not ckpt:
        raise SystemExit('no teacher checkpoint: pass --checkpoint or set '
                         'model.teacher_ckpt')
    try:
        dataset = teacher_pass_dataset(cfg, split, pipeline)
    except ValueError as e:
        raise SystemExit(f'{config}: {e}')
    return TeacherPassInputs(
        cfg, cfg.model.teacher, ckpt, cfg.model.get('teacher_ckpt_prefix',
                                                    ''), dataset,
        cfg.model.get('data_preprocessor') or cfg.get('data_preprocessor'))


def teacher_features(net, tap, preprocessor, loader,
                     total: int) -> Iterator[Tuple[Tensor, list]]:
    """Run the frozen teacher's backbone over ``loader`` with a progress
    bar; yield each batch's pooled pre-ReLU feature (B x D) and its data
    samples."""
    backbone = backbone_of(net.model)
    bar = ProgressBar(total, file=sys.stdout)
    for batch in loader:
        data = preprocessor(batch, False)
        net.run(backbone, net.prepare(data['inputs']))
        f = tap.pop()  # B x D
        yield f, data['data_samples']
        bar.update(f.shape[0])
    print()


@dataclass
class BasisResult:
    out: str
    num_images: int
    feature_dim: int
    layer: str
    top_singular_values: list
    pass_seconds: float = 0.0  # the teacher pass (grows with the images)
    solve_seconds: float = 0.0  # eigh + save (fixed: O(D^3), not O(N))


def compute_kdep_basis(teacher: dict, teacher_ckpt: str,
                       dataset: Union[dict, Dataset],
                       data_preprocessor: dict, out: str,
                       batch_size: int = 64, num_workers: int = 2,
                       device: str = 'cpu',
                       teacher_ckpt_prefix: str = '') -> BasisResult:
    """Compute and save the basis of ``teacher`` over ``dataset``.

    Args:
        teacher / teacher_ckpt: the teacher config and its checkpoint.
        dataset: dataset config (or dataset), already given the
            deterministic (test) pipeline by the caller.
        data_preprocessor: the distillation config's preprocessor (the same
            normalisation as in training).
        out: path of the basis file.
    """
    if batch_size <= 0:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    preprocessor = build_data_preprocessor(data_preprocessor).to(device)
    net = build_frozen_teacher(
        teacher, teacher_ckpt, 'eval', teacher_ckpt_prefix,
        student_preprocessor=preprocessor).to(device)
    tap = penultimate_tap(net.model, 'teacher')
    # bound to the weights as loaded, known before the pass (a URL, a
    # legacy file and a zip copy of them are the same teacher)
    weights = weights_sha256(net.model.state_dict())
    data = dataset if isinstance(dataset, Dataset) \
        else DATASETS.build(dict(dataset))
    if len(data) < 2:
        raise ValueError(f'the basis needs at least 2 images; the dataset '
                         f'{type(data).__name__} has {len(data)}.')
    loader = DataLoader(data, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=pseudo_collate)
    stats = StreamingBasis(tap.channels)
    print(f'teacher pre-ReLU features ({tap.layer}, D={tap.channels}) of '
          f'{len(data)} images')
    t0 = time.perf_counter()
    for f, _ in teacher_features(net, tap, preprocessor, loader, len(data)):
        stats.update(f)  # B x D
    t1 = time.perf_counter()
    solved = stats.solve()
    teacher_text = pprint.pformat(dict(teacher), sort_dicts=True)
    save_basis(out, solved, stats.n, tap.layer, teacher_text, weights,
               teacher_ckpt)
    return BasisResult(out, stats.n, tap.channels, tap.layer,
                       solved['singular_values'][:5].tolist(),
                       pass_seconds=t1 - t0,
                       solve_seconds=time.perf_counter() - t1)


def collect_teacher_features(teacher: dict, teacher_ckpt: str,
                             dataset: dict, data_preprocessor: dict,
                             num_classes: int = 10, per_class: int = 100,
                             seed: int = 0, batch_size: int = 64,
                             num_workers: int = 2, device: str = 'cpu',
                             teacher_ckpt_prefix: str = '',
                             basis: Optional[str] = None):
    """Pooled pre-ReLU teacher features of ``per_class`` random images of
    ``num_classes`` random classes of a labeled dataset (the sample of the
    paper's t-SNE figures). Returns (features N x D, labels N, class names,
    the tap). With ``basis``, that basis file is checked against the
    teacher's weights before the pass."""
    from torch.utils.data import Subset

    from kd_plugins.methods.kdep.analysis import sample_per_class
    data = DATASETS.build(dict(dataset))
    if len(data) == 0:
        raise ValueError(f'the dataset {dataset.get("type")} is empty')
    try:
        labels = [int(v) for v in data.get_gt_labels()]
    except (AttributeError, KeyError, TypeError) as e:
        raise ValueError(
            f'the dataset {dataset.get("type")} has no class labels '
            f'({e!r}); the analysis needs a labeled dataset') from e
    index = sample_per_class(labels, num_classes, per_class, seed)
    preprocessor = build_data_preprocessor(data_preprocessor).to(device)
    net = build_frozen_teacher(
        teacher, teacher_ckpt, 'eval', teacher_ckpt_prefix,
        student_preprocessor=preprocessor).to(device)
    tap = penultimate_tap(net.model, 'teacher')
    if basis is not None:
        load_basis(basis, weights_sha256(net.model.state_dict()))
    loader = DataLoader(Subset(data, index), batch_size=batch_size,
                        shuffle=False, num_workers=num_workers,
                        collate_fn=pseudo_collate)
    feats, gts = [], []
    print(f'teacher pre-ReLU features ({tap.layer}, D={tap.channels}) of '
          f'{len(index)} images')
    for f, samples in teacher_features(net, tap, preprocessor, loader,
                                       len(index)):
        feats.append(f.cpu())
        gts += [int(s.gt_label) for s in samples]
    classes = getattr(data, 'CLASSES', None) or \
        data.metainfo.get('classes')
    return torch.cat(feats), torch.tensor(gts), classes, tap
