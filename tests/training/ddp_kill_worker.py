"""``python -m core`` for a torchrun test: on the group's first attempt, rank 1 SIGKILLs itself mid epoch 2.

It dies before the second batch of epoch 2, after every rank has passed the first batch's
collective, so rank 0 has already written the epoch-1 checkpoint.
"""

import os
import signal
import sys

from core.training import loop

_real_train_epoch = loop.train_epoch


def _train_epoch(model, data, config, epoch, optimizer, scheduler, should_stop, *args, **kwargs):
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
        if epoch == 2 and calls == 2 and first_attempt and os.environ.get("RANK") == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        return should_stop()

    return _real_train_epoch(model, data, config, epoch, optimizer, scheduler, stop, *args, **kwargs)


loop.train_epoch = _train_epoch

if __name__ == "__main__":
    from core.cli import main

    sys.exit(main())
