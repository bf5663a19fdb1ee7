# KDEP on all of ImageNet-1k for 9 epochs (paper, Fig. 1 and Table 3: fast
# convergence): the same number of iterations as 10% for 90 epochs, so the
# lr steps every 3 epochs instead of 30. The basis is computed over the full
# training set:
#   python tools/kdep_svd.py configs/kdep/kdep_r18_r50_imagenet_9e.py \
#       --out work_dirs/kdep_r50_imagenet/basis.pth --device cuda
#   bash tools/dist_train.sh configs/kdep/kdep_r18_r50_imagenet_9e.py 8
_base_ = ['./kdep_r18_r50_imagenet10pct_90e.py']
model = dict(
    align=dict(basis='work_dirs/kdep_r50_imagenet/basis.pth'))
train_dataloader = dict(dataset=dict(ann_file=''))  # meta/train.txt
param_scheduler = dict(milestones=[3, 6])
train_cfg = dict(max_epochs=9)
default_hooks = dict(checkpoint=dict(interval=1))
