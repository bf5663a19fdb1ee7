"""Write the embedded MNIST-5k digits to data/mnist5k (train/val/unlabeled).

    python tools/prepare_mnist5k.py [--out data/mnist5k]
"""
import argparse

from kd_plugins.datasets.mnist5k import write_mnist5k


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default='data/mnist5k')
    parser.add_argument('--val-per-class', type=int, default=100)
    parser.add_argument('--train-per-class', type=int, default=100)
    parser.add_argument('--unlabeled-per-class', type=int, default=300)
    args = parser.parse_args()
    counts = write_mnist5k(args.out, args.val_per_class, args.train_per_class,
                           args.unlabeled_per_class)
    print(f'MNIST-5k in {args.out}: ' +
          ', '.join(f'{k} {v}' for k, v in counts.items()))


if __name__ == '__main__':
    main()
