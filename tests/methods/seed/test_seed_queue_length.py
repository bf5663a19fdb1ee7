"""A SEED queue of another length in a checkpoint is never loaded into the
queue (rows cannot be cut to another K): the queue starts as in a new run,
so the hook warm-fills it. ``--resume`` refuses such a checkpoint earlier
(tests/tools/test_faults.py)."""
import torch

from kd_plugins.methods.seed import SEEDQueue


def test_queue_of_another_length_is_not_loaded():
    saved = SEEDQueue(K=8, dim=4)
    saved.enqueue(torch.nn.functional.normalize(torch.randn(4, 4), dim=1))
    torch.manual_seed(0)
    queue = SEEDQueue(K=16, dim=4)
    start = queue.queue.clone()
    result = queue.load_state_dict(saved.state_dict(), strict=False)
    assert sorted(result.missing_keys) == ['num_enqueued', 'ptr', 'queue']
    assert torch.equal(queue.queue, start)
    assert int(queue.num_enqueued) == 0  # so SEEDQueueHook warm-fills it
    assert int(queue.ptr) == 0


def test_queue_of_the_same_length_loads():
    saved = SEEDQueue(K=8, dim=4)
    saved.enqueue(torch.nn.functional.normalize(torch.randn(4, 4), dim=1))
    queue = SEEDQueue(K=8, dim=4)
    queue.load_state_dict(saved.state_dict())
    assert torch.equal(queue.queue, saved.queue)
    assert int(queue.num_enqueued) == 4 and int(queue.ptr) == 4
