"""tools/made_data.py: the drawn-shape detection and segmentation data that
the downstream training tests use."""
import glob
import os.path as osp

import numpy as np
from made_data import CLASSES, draw_image, write_shapes
from pycocotools.coco import COCO


def test_drawn_shapes_are_consistent(tmp_path):
    rng = np.random.default_rng(0)
    for _ in range(20):
        img, classes, instances = draw_image(rng, 64)
        assert img.shape == (64, 64, 3) and classes.shape == (64, 64)
        assert instances, 'the last shape drawn is always visible'
        for inst in instances:
            x, y, w, h = (int(v) for v in inst['bbox'])
            box = classes[y:y + h, x:x + w]
            # (another shape of the same class may overlap the box)
            assert (box == inst['category_id']).sum() >= inst['area'] >= 16
            # the box is tight: the class touches all four edges
            assert (box[0] == inst['category_id']).any()
            assert (box[-1] == inst['category_id']).any()
            assert (box[:, 0] == inst['category_id']).any()
            assert (box[:, -1] == inst['category_id']).any()
    coco_root, seg_root = write_shapes(str(tmp_path), 3, 2, 48)
    coco = COCO(osp.join(coco_root, 'annotations', 'instances_val.json'))
    assert len(coco.getImgIds()) == 2
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(
        CLASSES)
    assert len(glob.glob(osp.join(seg_root, 'ann_dir', 'train', '*.png'))) \
        == 3
