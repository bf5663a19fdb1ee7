"""One pass of the frozen teacher over a dataset -> KDEP's SVD basis file.

Library side of ``tools/kdep_svd.py``. The teacher (eval mode, no gradient)
runs its backbone only; the pooled pre-ReLU feature of each image (see
:class:`~kd_plugins.models.kdep.pre_relu.PreReLUTap`) is streamed into a
:class:`~kd_plugins.models.kdep.basis.StreamingBasis`, so memory does not
grow with the number of images. The result is saved with the record binding
it to the teacher (config text, checkpoint sha256, tapped layer, number of
images, feature dim).
"""
import pprint
from dataclasses import dataclass

from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from kd_plugins.models.algorithms.base import build_data_preprocessor
from kd_plugins.models.kdep.basis import StreamingBasis, save_basis
from kd_plugins.models.kdep.pre_relu import PreReLUTap, backbone_of
from kd_plugins.models.teacher import build_frozen_teacher
from kd_plugins.registry import DATASETS


@dataclass
class BasisResult:
    out: str
    num_images: int
    feature_dim: int
    layer: str
    top_singular_values: list


def compute_kdep_basis(teacher: dict, teacher_ckpt: str, dataset: dict,
                       data_preprocessor: dict, out: str,
                       batch_size: int = 64, num_workers: int = 2,
                       device: str = 'cpu',
                       teacher_ckpt_prefix: str = '') -> BasisResult:
    """Compute and save the basis of ``teacher`` over ``dataset``.

    Args:
        teacher / teacher_ckpt: the teacher config and its checkpoint.
        dataset: dataset config, already given the deterministic (test)
            pipeline by the caller.
        data_preprocessor: the distillation config's preprocessor (the same
            normalisation as in training).
        out: path of the basis file.
    """
    if batch_size <= 0:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    net = build_frozen_teacher(teacher, teacher_ckpt, 'eval',
                               teacher_ckpt_prefix).to(device)
    tap = PreReLUTap(net.model, 'teacher')
    backbone = backbone_of(net.model)
    preprocessor = build_data_preprocessor(data_preprocessor).to(device)
    data = DATASETS.build(dict(dataset))
    if len(data) < 2:
        raise ValueError(f'the basis needs at least 2 images; the dataset '
                         f'{dataset.get("type")} has {len(data)}.')
    loader = DataLoader(data, batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=pseudo_collate)
    stats = StreamingBasis(tap.channels)
    print(f'teacher pre-ReLU features ({tap.layer}, D={tap.channels}) of '
          f'{len(data)} images')
    bar = ProgressBar(len(data))
    for batch in loader:
        inputs = preprocessor(batch, False)['inputs']
        net.run(backbone, inputs)
        f = tap.pop()  # B x D
        stats.update(f)
        bar.update(f.shape[0])
    print()
    solved = stats.solve()
    teacher_text = pprint.pformat(dict(teacher), sort_dicts=True)
    save_basis(out, solved, stats.n, tap.layer, teacher_text, teacher_ckpt)
    return BasisResult(out, stats.n, tap.channels, tap.layer,
                       solved['singular_values'][:5].tolist())
