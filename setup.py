from setuptools import find_packages, setup

setup(
    name='kd_plugins',
    version='0.1.0',
    description=('Knowledge distillation as backbone pre-training for '
                 'OpenMMLab 2.x'),
    packages=find_packages(include=['kd_plugins', 'kd_plugins.*']),
    python_requires='>=3.8',
    install_requires=[
        'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmpretrain>=1.0.0',
    ],
    extras_require={
        'downstream': ['mmdet>=3.0.0', 'mmsegmentation>=1.0.0'],
        'demo': ['mlxtend', 'matplotlib'],
        'tests': ['pytest', 'mlxtend', 'matplotlib'],
        # teachers from timm (mmpretrain's TIMMBackbone / TimmClassifier)
        'timm': ['timm'],
    },
)
