"""Prometheus remote write (protocol 1.0) for the VM suite's test client: protobuf WriteRequest, snappy block
compression, POST with Content-Encoding: snappy and X-Prometheus-Remote-Write-Version: 0.1.0.

The prompb messages are built from descriptors at run time (python3-protobuf, no protoc); snappy is
python3-snappy. Credentials in the URL (https://user:pass@host/...) become a basic-auth header and never appear
in a log line: redact() is what the client prints instead of the URL.
"""
import base64
import time
import urllib.error
import urllib.parse
import urllib.request

import snappy
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _prompb():
    """WriteRequest, TimeSeries, Label and Sample of prometheus/prompb/{remote,types}.proto (the fields used)."""
    f = descriptor_pb2.FileDescriptorProto(name="pyjoules_prompb.proto", package="prometheus", syntax="proto3")

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            m.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name)

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Label", ("name", 1, _F.TYPE_STRING, opt, None), ("value", 2, _F.TYPE_STRING, opt, None))
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, opt, None), ("timestamp", 2, _F.TYPE_INT64, opt, None))
    message("TimeSeries", ("labels", 1, _F.TYPE_MESSAGE, rep, ".prometheus.Label"), ("samples", 2, _F.TYPE_MESSAGE, rep, ".prometheus.Sample"))
    message("WriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, rep, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    get = getattr(message_factory, "GetMessageClass", None) or message_factory.MessageFactory(pool).GetPrototype
    return get(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _prompb()


def encode(series):
    """series: {frozenset of (label, value): [(timestamp_ms, value), ...]} -> the snappy-compressed WriteRequest."""
    req = WriteRequest()
    for labels, samples in series.items():
        ts = req.timeseries.add()
        for name, value in sorted(labels):  # remote write wants the labels sorted by name
            ts.labels.add(name=name, value=value)
        for t, v in sorted(samples):
            ts.samples.add(timestamp=t, value=v)
    return snappy.compress(req.SerializeToString())


def redact(url):
    """The URL without its credentials (user:pass@), for logs."""
    p = urllib.parse.urlsplit(url)
    if p.username is None and p.password is None:
        return url
    host = p.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    netloc = "***@" + host + (":%d" % p.port if p.port else "")
    return urllib.parse.urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))


def request(url, body):
    """The POST for one WriteRequest; credentials in the URL become a basic-auth header."""
    p = urllib.parse.urlsplit(url)
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "User-Agent": "pyjoules-test-client",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    if p.username is not None:
        user = urllib.parse.unquote(p.username)
        password = urllib.parse.unquote(p.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        netloc = p.hostname if ":" not in (p.hostname or "") else "[%s]" % p.hostname
        url = urllib.parse.urlunsplit((p.scheme, netloc + (":%d" % p.port if p.port else ""), p.path, p.query, p.fragment))
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def push(url, body, timeout_s=10):
    """POSTs one WriteRequest; returns the HTTP status, raises OSError (URLError, HTTPError) on failure."""
    with urllib.request.urlopen(request(url, body), timeout=timeout_s) as r:
        return r.status


class Pusher:
    """Batches samples and pushes them; a failed batch is kept (at most max_batches, oldest dropped first) and
    retried with exponential backoff (1 s doubling to 60 s) on the next pushes."""

    def __init__(self, url, max_batches, log, clock=time.monotonic):
        self.url, self.max_batches, self.log, self.clock = url, max(1, max_batches), log, clock
        self.pending = []  # batches: each a dict as encode() takes
        self.current = {}
        self.failures = 0
        self.next_try = 0.0
        self.pushed = 0

    def add(self, labels, timestamp_ms, value):
        self.current.setdefault(frozenset(labels.items()), []).append((timestamp_ms, value))

    def flush(self):
        """Moves the current samples into a batch and pushes what is pending, unless backing off."""
        if self.current:
            self.pending.append(self.current)
            self.current = {}
            if len(self.pending) > self.max_batches:
                dropped = self.pending.pop(0)
                self.log("dropped the oldest batch (%d samples): more than %d kept for retry" % (_count(dropped), self.max_batches))
        if not self.pending or self.clock() < self.next_try:
            return
        while self.pending:
            batch = self.pending[0]
            try:
                status = push(self.url, encode(batch))
            except OSError as e:
                self.failures += 1
                wait = min(60, 2 ** (self.failures - 1))
                self.next_try = self.clock() + wait
                self.log("push to %s failed (%s); %d batches kept, next try in %d s" % (redact(self.url), _reason(e), len(self.pending), wait))
                return
            self.pending.pop(0)
            self.pushed += _count(batch)
            if self.failures or self.pushed == _count(batch):
                self.log("pushed %d samples to %s (HTTP %d)" % (_count(batch), redact(self.url), status))
            self.failures = 0


def _count(batch):
    return sum(len(s) for s in batch.values())


def _reason(e):
    if isinstance(e, urllib.error.HTTPError):
        return "HTTP %d" % e.code
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e)
