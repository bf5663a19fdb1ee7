# The teacher and students of the MNIST-5k distillation configs: CIFAR-style
# ResNet-18 classifiers named by width (stem and first-stage channels; the
# pooled feature is 8x wider). w16 is the teacher (128-d), w8 and w4 are
# students (64-d, 32-d). Configs take them whole, as
# {{_base_.r18w16_classifier}}, or their backbone alone, as
# {{_base_.r18w16_classifier.backbone}}.


def _classifier(width):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=8 * width,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, )))


r18w16_classifier = _classifier(16)
r18w8_classifier = _classifier(8)
r18w4_classifier = _classifier(4)
