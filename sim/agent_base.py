"""The ``mesa.Agent`` base of the model's agents, without Mesa 3.3's hold on finished models.

Mesa (3.1 to 3.3) numbers agents from a counter per model kept in a class-level dict, ``Agent._ids``,
keyed by the model itself: every model ever built stays referenced, with all its arrays, for the life of
the process (mesa issue #3179, fixed upstream after 3.3.1). A calibration builds hundreds of models in
each worker process, and this grew one to 12 GB. :class:`Agent` keeps the counters in a dict with weak
keys instead, so a model is freed once nothing else refers to it; ids are numbered as before.
"""

from __future__ import annotations

import itertools
import weakref

import mesa


class _CountersPerModel(weakref.WeakKeyDictionary):
    """A counter of agent ids per model (from 1), holding the models weakly."""

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = self[model] = itertools.count(1)
            return counter


class Agent(mesa.Agent):
    """``mesa.Agent`` whose id counters do not keep its model alive."""

    _ids = _CountersPerModel()
