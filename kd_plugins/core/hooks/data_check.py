"""DataCheckHook: find bad training data before the first step, not when
training (or the validation after it) reaches the bad file.

``before_train``, on every process:

1. the training loader must give at least one batch: a finite sampler with
   ``drop_last=True`` and fewer images than one batch gives none (mmengine
   then ends in a bare ``StopIteration``);
2. for each image dataset of the training and validation loaders with at
   most ``max_images`` images: every file exists and PIL reads it
   (``Image.verify``: the header, and for PNG every chunk's checksum), and
   where the pipeline neither resizes nor crops, all images share one size
   (otherwise a batch cannot be stacked).

Each failure raises a ``ValueError`` naming the files (the first few, and
how many), the dataset and the fix. Larger datasets are not read here (one
line in the log says so); a file that fails there is named by the loading
transform when training reaches it.
"""
from collections import Counter, defaultdict
from typing import Iterator, List

from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS as ROOT_HOOKS
from torch.utils.data import Dataset

from kd_plugins.core.checkpoint import listing
from kd_plugins.registry import HOOKS

# transforms after which images of any size batch together
_SIZE_SETTING = ('Resize', 'Crop', 'Pad')


def image_datasets(dataset) -> Iterator:
    """The datasets under ``dataset`` (wrappers opened) that load image
    files through a pipeline."""
    if hasattr(dataset, 'pipeline') and hasattr(dataset, 'get_data_info'):
        yield dataset
        return
    for value in vars(dataset).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, Dataset):
                yield from image_datasets(item)


def transform_names(pipeline) -> List[str]:
    """Class names of a pipeline's transforms, nested ones included."""
    names = []
    items = getattr(pipeline, 'transforms', None) or []
    for t in items if isinstance(items, (list, tuple)) else [items]:
        names.append(type(t).__name__)
        for inner in getattr(t, 'pipelines', None) or []:  # MultiView
            names.extend(transform_names(inner))
        if hasattr(t, 'transforms'):  # RandomApply, RandomChoice, Compose
            names.extend(transform_names(t))
    return names


def describe(dataset) -> str:
    parts = [type(dataset).__name__]
    for attr in ('ann_file', 'data_root', 'img_prefix'):
        value = getattr(dataset, attr, '')
        if value:
            parts.append(f'{attr}={value}')
            break
    return ' '.join(parts)


def check_batches(loader, what: str = 'train_dataloader') -> None:
    """Raise when a finite loader would give no batch at all."""
    sampler = loader.sampler
    if isinstance(sampler, InfiniteSampler) or not loader.drop_last or \
            not hasattr(sampler, '__len__'):
        return
    per_rank, batch = len(sampler), loader.batch_size
    if per_rank >= batch:
        return
    world = get_world_size()
    total = len(loader.dataset)
    spread = f' ({per_rank} per process over {world})' if world > 1 else ''
    raise ValueError(
        f'{what} gives no batch: its dataset has {total} images{spread}, '
        f'fewer than batch_size={batch}, and drop_last=True drops the short '
        f'batch, so no training step can run. Add images, or set '
        f'{what}.batch_size to at most {per_rank} (SEED: a size whose '
        'global total divides the queue length K).')


def check_images(dataset, what: str, same_size: bool) -> None:
    """Raise when an image of ``dataset`` is missing, unreadable or (with
    ``same_size``) of another size than the others."""
    from PIL import Image
    bad, sizes = [], defaultdict(list)
    for i in range(len(dataset)):
        path = dataset.get_data_info(i).get('img_path')
        if path is None:
            return  # not a file-backed dataset
        try:
            with Image.open(path) as img:
                size = img.size
                img.verify()
        except FileNotFoundError:
            bad.append(f'{path} (missing)')
        except Exception as err:  # PIL raises several types
            bad.append(f'{path} ({type(err).__name__}: {err})')
        else:
            sizes[size].append(path)
    where = f'{what} ({describe(dataset)})'
    if bad:
        raise ValueError(
            f'{len(bad)} of the {len(dataset)} images of {where} cannot be '
            f'read: {listing(bad, 5)}. Replace or remove these files (for '
            'an annotation file: the lines naming them), or re-create the '
            'data (tools/prepare_mnist5k.py for the embedded digits).')
    if same_size and len(sizes) > 1:
        common, _ = Counter({s: len(p) for s, p in sizes.items()}
                            ).most_common(1)[0]
        odd = [f'{p} ({s[0]}x{s[1]})' for s, ps in sizes.items()
               if s != common for p in ps]
        names = ', '.join(transform_names(dataset.pipeline))
        raise ValueError(
            f'the images of {where} differ in size: {len(sizes[common])} '
            f'are {common[0]}x{common[1]}, {len(odd)} are not: '
            f'{listing(odd, 5)}. The pipeline ({names}) neither resizes nor '
            'crops, so a batch of them cannot be stacked. Resize these '
            'images, or add a Resize or CenterCrop to the pipeline.')


@HOOKS.register_module()
class DataCheckHook(Hook):
    """Check the training and validation data before the first step.

    Args:
        max_images: read the images of datasets up to this size; larger
            ones are left to the loading transform.
    """

    priority = 'VERY_HIGH'

    def __init__(self, max_images: int = 20000) -> None:
        if max_images < 0:
            raise ValueError(f'max_images must be >= 0, got {max_images}')
        self.max_images = max_images

    def before_train(self, runner) -> None:
        check_batches(runner.train_dataloader)
        loaders = [('train_dataloader', runner.train_dataloader)]
        if runner.val_loop is not None:
            loaders.append(('val_dataloader', runner.val_loop.dataloader))
        for what, loader in loaders:
            for dataset in image_datasets(loader.dataset):
                self._check(runner, dataset, what, loader.batch_size)

    def _check(self, runner, dataset, what: str, batch: int) -> None:
        names = transform_names(dataset.pipeline)
        if not any(n.startswith('LoadImage') for n in names):
            return
        if len(dataset) > self.max_images:
            runner.logger.info(
                f'{what} ({describe(dataset)}): {len(dataset)} images, more '
                f'than max_images={self.max_images}; not read before '
                'training')
            return
        resizes = any(s in n for n in names for s in _SIZE_SETTING)
        check_images(dataset, what, same_size=batch > 1 and not resizes)


ROOT_HOOKS.register_module(module=DataCheckHook)
