"""Every engine call releases the GIL: two Python threads embedding at once give results
bit-identical to one thread, and run on two cores at once."""

import threading
import time

import numpy as np

import clapsearch
from conftest import case_dir, golden_clip


def test_two_threads_equal_one_thread():
    model = clapsearch.Model(case_dir("tiny-unfused"), threads=1)
    clips = np.stack([golden_clip("b"), golden_clip("e"), golden_clip("b") * 0.5, golden_clip("e") * 2]).astype(np.float32)
    texts = ["female vocalist", "rock music", "warm lo-fi guitar", "rain on a window"]
    ref_audio = model.embed_audio(clips)
    ref_text = model.embed_text(texts)
    results = {}
    errors = []

    def work(i):
        try:
            for _ in range(2):
                results[("a", i)] = model.embed_audio(clips)
                results[("t", i)] = model.embed_text(texts)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(2):
        np.testing.assert_array_equal(results[("a", i)], ref_audio)
        np.testing.assert_array_equal(results[("t", i)], ref_text)


def test_the_gil_is_released_while_embedding():
    """A pure-Python loop keeps running while another thread is inside the engine."""
    model = clapsearch.Model(case_dir("tiny-unfused"), threads=1)
    clips = np.stack([golden_clip("b")] * 8)
    done = threading.Event()
    ticks = [0]

    def spin():
        while not done.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.01)
    before = ticks[0]
    model.embed_audio(clips)
    during = ticks[0] - before
    done.set()
    t.join()
    # Holding the GIL through the call would stop the spinner for all of it (the engine runs no
    # bytecode, so no switch request is ever honoured): it would count almost nothing.
    assert during > 1000, during


def _embed_in_child(model, texts, clip, queue):
    try:
        queue.put((model.embed_text(texts), model.embed_audio(clip)))
    except BaseException as e:  # noqa: BLE001
        queue.put(e)


def test_hostile8_a_forked_child_embeds_with_the_parents_model():
    """Hostile pass 8 (H8C-7): a multiprocessing worker started by fork (Linux's default) that used
    a Model the parent had used hung for ever: libgomp's thread pool does not survive a fork. The
    child now runs single-threaded and gives the parent's bytes."""
    import multiprocessing

    model = clapsearch.Model(case_dir("tiny-unfused"), threads=2)
    texts = ["rock music", "rain on a window"]
    clip = golden_clip("b")[None, :].astype(np.float32)
    ref_text, ref_audio = model.embed_text(texts), model.embed_audio(clip)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_embed_in_child, args=(model, texts, clip, queue))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    assert not hung, "the forked child hung"
    got = queue.get(timeout=10)
    assert not isinstance(got, BaseException), got
    np.testing.assert_array_equal(got[0], ref_text)
    np.testing.assert_array_equal(got[1], ref_audio)
