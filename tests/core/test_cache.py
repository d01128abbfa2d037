"""The cache lock (reid_bench.cache): parallel runs make each cached item once, and a waiting run says why."""
import fcntl
import threading

from reid_bench.cache import exclusive_lock


def test_a_process_waiting_for_the_lock_says_what_it_waits_for(tmp_path):
    """Reliability issue, defect 9: a run waiting on another's pretraining printed nothing for minutes."""
    path = str(tmp_path / "item.lock")
    said, entered = [], threading.Event()
    with open(path, "a") as holder:  # another process's lock: a separate open file holds it
        fcntl.flock(holder, fcntl.LOCK_EX)

        def wait():
            with exclusive_lock(path, waiting="the item", log=said.append):
                entered.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not entered.wait(0.5)
        assert said == [f"waiting for another process making the item (it holds {path})"]
        fcntl.flock(holder, fcntl.LOCK_UN)
        waiter.join(10)
    assert entered.is_set()
    with exclusive_lock(path, waiting="the item", log=said.append):  # free: nothing said
        pass
    assert len(said) == 1
