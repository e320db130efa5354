"""The embedded broker never hands a consumer a half-written message."""

import threading

from kombu import Connection

import portal.broker  # registers the transport


def test_messages_published_while_a_consumer_reads_arrive_whole(tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    queue = "race"
    sent = 300
    received, errors = [], []
    ready = threading.Event()

    def consume():
        with Connection("slipwayfs://", transport_options=options) as conn:
            simple = conn.SimpleQueue(queue)
            ready.set()
            while len(received) < sent:
                try:
                    message = simple.get(timeout=5)
                except simple.Empty:
                    break
                except Exception as exc:  # what kombu's own transport raises on a partial file
                    errors.append(exc)
                    continue
                received.append(message.payload)
                message.ack()

    reader = threading.Thread(target=consume)
    reader.start()
    assert ready.wait(10)
    with Connection("slipwayfs://", transport_options=options) as conn:
        simple = conn.SimpleQueue(queue)
        for index in range(sent):
            simple.put({"index": index, "padding": "x" * 4096})
    reader.join(timeout=60)
    assert errors == []
    assert sorted(m["index"] for m in received) == list(range(sent))
    assert not list(tmp_path.glob("*.part"))


def test_the_embedded_broker_starts_without_a_warning_a_newcomer_cannot_act_on(caplog, tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    with Connection(portal.broker.EMBEDDED_URL, transport_options=options) as conn:
        conn.info()  # what celery prints in its banner
        conn.SimpleQueue("q").put({"ok": True})
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text
