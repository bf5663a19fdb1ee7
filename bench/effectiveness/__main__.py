"""python -m bench.effectiveness [--help]"""
from bench.effectiveness.command import main

if __name__ == '__main__':
    main()
