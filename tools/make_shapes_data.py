"""Write small drawn-shape data for detection (COCO) and segmentation (mmseg).

    python tools/make_shapes_data.py data/shapes            # 16 train, 8 val
    python tools/make_shapes_data.py data/shapes --train 200 --val 50 \
        --size 128

writes ``ROOT/coco`` (``train/``, ``val/``, ``annotations/instances_*.json``
with boxes and polygon masks) and ``ROOT/seg`` (``img_dir/``, ``ann_dir/``,
class index per pixel, 0 = background). ``tools/downstream_train.py CONFIG
--made-data ROOT`` trains and evaluates a downstream config on them.
"""
import argparse

from made_data import write_coco_shapes, write_seg_shapes
from mmengine.utils import ProgressBar


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', help='output folder')
    parser.add_argument('--train', type=int, default=16,
                        help='training images per task')
    parser.add_argument('--val', type=int, default=8,
                        help='validation images per task')
    parser.add_argument('--size', type=int, default=96, help='image side')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    bar = ProgressBar(2)
    write_coco_shapes(f'{args.root}/coco', args.train, args.val, args.size,
                      args.seed)
    bar.update()
    write_seg_shapes(f'{args.root}/seg', args.train, args.val, args.size,
                     args.seed)
    bar.update()
    print(f'\nwrote {args.root}/coco and {args.root}/seg: {args.train} train '
          f'+ {args.val} val images of {args.size}x{args.size} each')


if __name__ == '__main__':
    main()
