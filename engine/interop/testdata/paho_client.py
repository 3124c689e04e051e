#!/usr/bin/env python3
"""Python paho-mqtt client driven by engine/interop/python_test.go.

Runs one scenario against the broker at --host/--port and prints one JSON
object on stdout: {"received": [...], "session_present": bool}. Each received
message is rendered as "payload qos=Q retain=0|1 topic=T" followed, for MQTT 5,
by " subid=N" and " user=k:v" for each user property, so the Go side can
compare exact lists. Any failure exits non-zero with the reason on stderr.

Works with paho-mqtt 1.x (Debian bookworm ships 1.6) and 2.x, whose Client
constructor and callback signatures differ (CallbackAPIVersion): callbacks
take *args and read only the positions both versions share.
"""
import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

try:
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes
except ImportError:  # very old paho without MQTT 5
    Properties = PacketTypes = None

WAIT = 5.0


def fail(msg):
    sys.stderr.write("paho_client.py: " + msg + "\n")
    sys.exit(1)


def rc_value(rc):
    """Reason codes are ints in 1.x 3.1.1, objects with .value otherwise."""
    return getattr(rc, "value", rc)


class Peer:
    """One paho client with events for CONNACK and SUBACK and a message log."""

    def __init__(self, args, client_id, clean=True, will=None, session_expiry=None):
        self.args = args
        self.v5 = args.version == "5"
        proto = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        kw = {"client_id": client_id, "protocol": proto}
        if not self.v5:
            kw["clean_session"] = clean
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kw)
        else:
            self.c = mqtt.Client(**kw)
        self.clean = clean
        self.session_expiry = session_expiry
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present = None
        self.lock = threading.Lock()
        self.got = []
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on_message
        if will is not None:
            self.c.will_set(will[0], will[1], qos=will[2], retain=False)

    def _on_connect(self, *a):
        flags, rc = a[2], a[3]
        if rc_value(rc) != 0:
            sys.stderr.write("CONNACK refused: %r\n" % (rc,))
            return
        if isinstance(flags, dict):
            self.session_present = bool(flags.get("session present"))
        else:
            self.session_present = bool(getattr(flags, "session_present", False))
        self.connected.set()

    def _on_message(self, client, userdata, m):
        s = "%s qos=%d retain=%d topic=%s" % (m.payload.decode(), m.qos, int(m.retain), m.topic)
        props = getattr(m, "properties", None)
        if self.v5 and props is not None:
            ids = getattr(props, "SubscriptionIdentifier", None)
            if ids:
                for i in ids if isinstance(ids, list) else [ids]:
                    s += " subid=%d" % i
            for k, v in getattr(props, "UserProperty", None) or []:
                s += " user=%s:%s" % (k, v)
        with self.lock:
            self.got.append(s)

    def connect(self, background=True):
        kw = {}
        if self.v5:
            kw["clean_start"] = self.clean
            if self.session_expiry is not None:
                p = Properties(PacketTypes.CONNECT)
                p.SessionExpiryInterval = self.session_expiry
                kw["properties"] = p
        self.c.connect(self.args.host, self.args.port, 30, **kw)
        if background:
            self.c.loop_start()
            if not self.connected.wait(WAIT):
                fail("no CONNACK within %.0fs" % WAIT)
        else:
            deadline = time.time() + WAIT
            while not self.connected.is_set():
                if time.time() > deadline:
                    fail("no CONNACK within %.0fs" % WAIT)
                self.c.loop(0.05)

    def subscribe(self, topic, qos, subid=None):
        kw = {}
        if self.v5 and subid:
            p = Properties(PacketTypes.SUBSCRIBE)
            p.SubscriptionIdentifier = subid
            kw["properties"] = p
        self.subscribed.clear()
        rc, _ = self.c.subscribe(topic, qos, **kw)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            fail("subscribe: rc %d" % rc)
        if not self.subscribed.wait(WAIT):
            fail("no SUBACK within %.0fs" % WAIT)

    def publish(self, topic, payload, qos, retain=False, user=None):
        kw = {}
        if self.v5 and user:
            p = Properties(PacketTypes.PUBLISH)
            p.UserProperty = user
            kw["properties"] = p
        info = self.c.publish(topic, payload, qos=qos, retain=retain, **kw)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            fail("publish: rc %d" % info.rc)
        if qos > 0:
            try:
                info.wait_for_publish(WAIT)
            except TypeError:  # paho < 1.6 has no timeout argument
                info.wait_for_publish()
            if not info.is_published():
                fail("publish %r: not acknowledged within %.0fs" % (payload, WAIT))

    def wait(self, n, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    break
            time.sleep(0.01)
        with self.lock:
            return list(self.got)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def payloads(n):
    return ["m-%03d" % i for i in range(n)]


def roundtrip(a):
    sub = Peer(a, a.id + "s")
    sub.connect()
    sub.subscribe(a.topic, a.qos, subid=7)
    pub = Peer(a, a.id + "p")
    pub.connect()
    for i, p in enumerate(payloads(a.count)):
        pub.publish(a.topic, p, a.qos, user=[("seq", str(i))])
    got = sub.wait(a.count, 10)
    pub.close()
    sub.close()
    return {"received": got}


def retained(a):
    pub = Peer(a, a.id + "p")
    pub.connect()
    pub.publish(a.topic, "kept", a.qos, retain=True)
    sub = Peer(a, a.id + "s")
    sub.connect()
    sub.subscribe(a.topic, a.qos)
    sub.wait(1, WAIT)
    pub.publish(a.topic, "", a.qos, retain=True)
    # The established subscriber sees the clearing message (retain 0): only
    # then has the broker surely processed it, even at QoS 0.
    got = sub.wait(2, WAIT)
    late = Peer(a, a.id + "l")
    late.connect()
    late.subscribe(a.topic, a.qos)
    time.sleep(0.3)
    for c in (pub, sub, late):
        c.close()
    # "late" must be empty: the empty retained message cleared the topic.
    return {"received": got, "late": late.wait(0, 0)}


def will(a):
    watcher = Peer(a, a.id + "s")
    watcher.connect()
    watcher.subscribe(a.topic, a.qos)
    polite = Peer(a, a.id + "w1", will=(a.topic, "polite", a.qos))
    polite.connect()
    polite.close()
    # No loop thread for the rude client: nothing may reconnect it after
    # its socket is closed without DISCONNECT.
    rude = Peer(a, a.id + "w2", will=(a.topic, "gone", a.qos))
    rude.connect(background=False)
    rude.c.socket().close()
    watcher.wait(1, WAIT)
    time.sleep(0.2)
    got = watcher.wait(2, 0)
    watcher.close()
    return {"received": got}


def session(a):
    v5 = a.version == "5"
    expiry = 60 if v5 else None
    # 3.1.1: CleanSession 0 from the start (the id is fresh, so there is no
    # old session); 5: Clean Start 1 with a session expiry.
    first = Peer(a, a.id + "r", clean=v5, session_expiry=expiry)
    first.connect()
    first_present = first.session_present
    first.subscribe(a.topic, a.qos, subid=9)
    first.close()
    pub = Peer(a, a.id + "p")
    pub.connect()
    for p in payloads(a.count):
        pub.publish(a.topic, p, a.qos)
    pub.close()
    again = Peer(a, a.id + "r", clean=False, session_expiry=expiry)
    again.connect()
    got = again.wait(a.count, 10)
    again.close()
    return {"received": got, "first_session_present": first_present, "session_present": again.session_present}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", choices=["311", "5"], required=True)
    ap.add_argument("--qos", type=int, choices=[0, 1, 2], required=True)
    ap.add_argument("--scenario", choices=["roundtrip", "retained", "will", "session"], required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--id", required=True, help="client id prefix")
    ap.add_argument("--count", type=int, default=50)
    a = ap.parse_args()
    if a.version == "5" and Properties is None:
        fail("this paho-mqtt has no MQTT 5 support")
    out = globals()[a.scenario](a)
    out["paho_version"] = getattr(mqtt, "__version__", "") or __import__("paho.mqtt").mqtt.__version__
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
