# No validation or test loop: for pre-training without labels (KDEP, SEED,
# MoCo-v2, BYOL), whose backbones are evaluated downstream afterwards.
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = test_evaluator = test_cfg = None
