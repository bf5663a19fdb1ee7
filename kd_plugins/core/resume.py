"""Which checkpoint a ``--resume`` continues from: the newest that loads.

mmengine's automatic resume reads the file that ``last_checkpoint`` names
and fails when it is missing or damaged (a kill during a save, a full
disk), although an older complete checkpoint may be right beside it.
:func:`newest_loadable` tries the work directory's checkpoints newest first
(``iter_N.pth`` / ``epoch_N.pth`` by N, and the one ``last_checkpoint``
names) and returns the first that loads as a training checkpoint, with the
reason for each newer one it passed over, so that the tool can say so.
"""
import glob
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.runner.checkpoint import CheckpointLoader

LAST_CHECKPOINT = 'last_checkpoint'
_STEP = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def candidates(work_dir: str) -> List[str]:
    """The checkpoints of ``work_dir``, newest first."""
    named = None
    pointer = osp.join(work_dir, LAST_CHECKPOINT)
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    folders = {osp.abspath(work_dir)}
    if named:
        folders.add(osp.dirname(osp.abspath(named)))
    numbered = []
    for folder in folders:
        for path in glob.glob(osp.join(glob.escape(folder), '*.pth')):
            m = _STEP.match(osp.basename(path))
            if m:
                numbered.append((int(m.group(1)), path))
    ordered = [p for _, p in sorted(numbered, reverse=True)]
    if named and osp.abspath(named) not in map(osp.abspath, ordered):
        ordered.insert(0, named)  # another file name template, or missing
    return ordered


def why_not_loadable(path: str) -> Optional[str]:
    """``None`` when ``path`` loads as a training checkpoint, else why not."""
    if not osp.isfile(path):
        return 'the file does not exist'
    try:
        ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except Exception as err:  # whatever the loader says, as one line
        text = str(err).strip().splitlines()
        return f'{type(err).__name__}: {text[0] if text else ""}'.rstrip(': ')
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if not (isinstance(meta, dict) and 'epoch' in meta and 'iter' in meta):
        return 'not a training checkpoint (no meta with epoch and iteration)'
    return None


def newest_loadable(work_dir: str
                    ) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """(the newest checkpoint that loads or ``None``, [(passed over, why)])."""
    passed = []
    for path in candidates(work_dir):
        why = why_not_loadable(path)
        if why is None:
            return path, passed
        passed.append((path, why))
    return None, passed
