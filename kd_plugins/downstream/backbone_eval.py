"""Evaluate a backbone by itself: cosine k-NN on its pooled features.

The k-NN classifier of InstDisc (Wu et al. 2018) as DINO and mmselfsup use
it: features are L2-normalised; each query takes its ``k`` most similar
training features (cosine similarity ``s``) and every neighbour votes for its
label with weight ``exp(s / T)``; the class with the largest sum wins.
"""
import copy
import sys
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.utils import ProgressBar
from torch import Tensor


def knn_predict(bank: Tensor, bank_labels: Tensor, queries: Tensor, k: int,
                temperature: float, num_classes: int,
                chunk: int = 1024) -> Tensor:
    """Predicted class per query (``Q``) from a labelled bank (``N x D``).

    ``bank`` and ``queries`` need not be normalised; ties in the vote go to
    the smaller class index (``argmax``).
    """
    if k < 1 or temperature <= 0:
        raise ValueError(f'k must be >= 1 and temperature > 0 (got k={k}, '
                         f'temperature={temperature})')
    k = min(k, bank.shape[0])
    bank = F.normalize(bank.float(), dim=1)  # N x D
    preds = []
    for start in range(0, queries.shape[0], chunk):
        q = F.normalize(queries[start:start + chunk].float(), dim=1)  # B x D
        sim = q @ bank.t()  # B x N cosine similarities
        top_sim, top_idx = sim.topk(k, dim=1)  # B x k
        weights = (top_sim / temperature).exp()  # B x k
        votes = torch.zeros(q.shape[0], num_classes)  # B x C
        votes.scatter_add_(1, bank_labels[top_idx], weights)
        preds.append(votes.argmax(dim=1))
    return torch.cat(preds)


@torch.no_grad()
def extract_features(model, dataloader, desc: str = '') -> Tuple[Tensor,
                                                                  Tensor]:
    """Pooled features (``model.extract_feat``: backbone + neck) and labels
    of every sample of ``dataloader``, with a progress bar."""
    model.eval()
    feats, labels = [], []
    bar = ProgressBar(len(dataloader.dataset), file=sys.stdout)
    for data in dataloader:
        data = model.data_preprocessor(data, False)
        out = model.extract_feat(data['inputs'])
        out = out[-1] if isinstance(out, (tuple, list)) else out
        feats.append(out.flatten(1).cpu())
        labels.append(torch.cat([s.gt_label for s in data['data_samples']]))
        bar.update(len(data['data_samples']))
    if desc:
        print(f'\n{desc}: {sum(len(f) for f in feats)} features of '
              f'{feats[0].shape[1]} dims')
    return torch.cat(feats), torch.cat(labels)


def knn_top1(model, bank_loader, query_loader, k: int = 20,
             temperature: float = 0.07,
             num_classes: Optional[int] = None) -> Dict[str, float]:
    """Cosine k-NN top-1 (%) of ``model``'s features: bank = training set."""
    bank, bank_labels = extract_features(model, bank_loader, 'bank')
    queries, labels = extract_features(model, query_loader, 'queries')
    num_classes = num_classes or int(max(bank_labels.max(),
                                         labels.max())) + 1
    pred = knn_predict(bank, bank_labels, queries, k, temperature,
                       num_classes)
    return dict(top1=100.0 * (pred == labels).float().mean().item(),
                num_bank=len(bank), num_queries=len(queries))


def linear_probe_top1(train_feats: Tensor, train_labels: Tensor,
                      val_feats: Tensor, val_labels: Tensor,
                      C: float = 1.0) -> float:
    """Top-1 (%) of a linear classifier on frozen, pre-extracted features.

    Multinomial logistic regression (scikit-learn, L-BFGS, L2 strength
    ``1 / C``) on features standardised with the training set's mean and
    std: deterministic, and seconds instead of a training run per backbone.
    Features of different methods differ in scale by orders of magnitude;
    standardising keeps one regularisation strength fair to all.
    """
    from sklearn.linear_model import LogisticRegression
    if len(train_feats) == 0 or len(val_feats) == 0:
        raise ValueError('linear probe: empty feature set (train '
                         f'{len(train_feats)}, val {len(val_feats)} rows)')
    mean = train_feats.mean(0, keepdim=True)
    std = train_feats.std(0, keepdim=True).clamp_min(1e-6)
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(((train_feats - mean) / std).double().numpy(),
            train_labels.numpy())
    pred = clf.predict(((val_feats - mean) / std).double().numpy())
    return 100.0 * float((torch.from_numpy(pred) == val_labels).float()
                         .mean())


def train_and_validate(cfg, checkpoint: Optional[str], work_dir: str,
                       tag: str) -> float:
    """Top-1 (%) of ``cfg`` (a linear-probe or fine-tune classifier config)
    trained with ``checkpoint`` as its backbone (``None``: the backbone's
    own random init), then validated."""
    import time
    from argparse import Namespace

    from kd_plugins.cli import apply_dataloader_defaults, build_runner
    cfg = copy.deepcopy(cfg)
    if checkpoint:
        cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                           checkpoint=checkpoint)
    else:
        cfg.model.backbone.pop('init_cfg', None)
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                            if h.get('type') != 'DistilledBackboneCheckHook']
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.experiment_name = f'{tag}_{time.strftime("%Y%m%d_%H%M%S")}'
    apply_dataloader_defaults(cfg, Namespace(no_pin_memory=False))
    runner = build_runner(cfg)
    runner.train()
    return runner.val()['accuracy/top1']


def build_with_backbone(cfg, checkpoint: Optional[str], seed: int = 0):
    """The config's model with ``checkpoint`` as its backbone, checked to
    have loaded completely; ``None``: the backbone's own random init. The
    model normalises its input with the config's top-level
    ``data_preprocessor`` (unless the model names its own), as a Runner
    built from the config would."""
    from mmengine.registry import DefaultScope

    from kd_plugins.registry import MODELS

    from .check_hook import DistilledBackboneCheckHook
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        # the config's input normalisation, as mmengine's Runner gives it
        model_cfg.setdefault('data_preprocessor',
                             copy.deepcopy(cfg.data_preprocessor))
    if checkpoint:
        model_cfg.backbone.init_cfg = dict(type='Pretrained',
                                           checkpoint=checkpoint)
    else:
        model_cfg.backbone.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope',
                                                      'kd_plugins')):
        model = MODELS.build(model_cfg)
    torch.manual_seed(seed)
    model.init_weights()
    if checkpoint:
        DistilledBackboneCheckHook().check(model.backbone)
    return model


def knn_loaders(cfg):
    """(bank, queries) dataloaders: the training set through the test
    pipeline, unshuffled, and the validation set."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    val = copy.deepcopy(cfg.val_dataloader)
    bank = copy.deepcopy(cfg.train_dataloader)
    if 'pipeline' not in bank.dataset:
        raise ValueError(
            f'k-NN needs a labelled training set with a pipeline; this '
            f'config trains on a {bank.dataset.get("type")} wrapper: use a '
            'classification config (e.g. configs/downstream/mnist5k/'
            'linear_probe_r18w8.py)')
    bank.dataset.pipeline = val.dataset.pipeline
    bank.sampler = dict(type='DefaultSampler', shuffle=False)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope',
                                                      'kd_plugins')):
        return Runner.build_dataloader(bank), Runner.build_dataloader(val)
