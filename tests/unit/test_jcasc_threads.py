"""A JCasC model world is shared by threads (the Jenkins doubles of one test server answer /check
from it): its lazily built tables are published whole, never half-filled."""

from __future__ import annotations

import threading

from generator import jcasc
from generator.jcasc import model


def _roots_seen_by_threads(world, threads: int = 8) -> list[dict]:
    seen, start = [], threading.Barrier(threads)

    def look():
        start.wait()
        seen.append({name: sorted(conf.attrs) for name, conf in world.roots().items()})
    running = [threading.Thread(target=look) for _ in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return seen


def test_threads_building_one_world_all_see_every_root():
    selection = jcasc.select("2.555.2", {})
    components = jcasc._everything(selection, model.MODEL_DIR)
    expected = {name: sorted(conf.attrs)
                for name, conf in model.world("2.555.2", components, model.MODEL_DIR).roots().items()}
    assert "thememanager" in expected["appearance"]
    for _ in range(3):
        model.world.cache_clear()
        seen = _roots_seen_by_threads(model.world("2.555.2", components, model.MODEL_DIR))
        assert seen == [expected] * 8
