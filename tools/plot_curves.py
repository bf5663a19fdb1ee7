"""Plot logged training curves of a run as a PNG.

    python tools/plot_curves.py work_dirs/sskd_r18w8_r18w16_mnist5k \
        --keys loss_stage dist_stage --out sskd_stages.png

For SSKD, ``loss_stage<i>`` is the trained stage's feature distance and
``dist_stage<j>`` the distances of the frozen stages, all per iteration.
"""
import argparse

from kd_plugins.visualization import find_scalars, plot_curves


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir', help='work_dir of a tools/train.py run')
    parser.add_argument('--keys', nargs='+', default=['loss'],
                        help='plot every scalar whose name starts with one '
                        'of these')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--linear', action='store_true',
                        help='linear y axis (default: log when positive)')
    args = parser.parse_args()
    names = plot_curves(find_scalars(args.work_dir), args.keys, args.out,
                        log_y=not args.linear)
    print(f'wrote {args.out}: {", ".join(names)}')


if __name__ == '__main__':
    main()
