#!/usr/bin/env python3
"""Writes N NDJSON lines shaped like crates/yagura/benches/ingest_http.rs's bodies (proxy,
DNS and flow ECS events in turn, 10 organizations' networks) for examples/ecs_intake.rs.

usage: ecs_lines.py N > body.ndjson
"""
import datetime
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 30000
random.seed(7)
out = sys.stdout
for i in range(n):
    net = 10 + (i // 1000) % 10
    ts = 1767571200 + i * 7200 // n
    t = datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')
    host = random.randrange(500)
    dom = random.randrange(20000)
    k = i % 3
    if k == 0:
        s = '{"@timestamp":"%s","event":{"id":"e%d","dataset":"squid.access","kind":"event","category":["web"]},"source":{"ip":"10.%d.%d.%d"},"destination":{"ip":"203.0.%d.%d","port":443},"url":{"full":"https://site%d.example.com/p/%d?q=%d","domain":"site%d.example.com"},"http":{"request":{"method":"GET"},"response":{"status_code":200}},"user_agent":{"original":"Mozilla/5.0"},"user":{"name":"user%d"}}' % (
            t, i, net, host // 250, host % 250, dom % 250, dom // 250 % 250, dom,
            random.randrange(1000), random.randrange(1000000), dom, host)
    elif k == 1:
        s = '{"@timestamp":"%s","event":{"id":"e%d","dataset":"zeek.dns","kind":"event","category":["network"]},"source":{"ip":"10.%d.%d.%d","port":%d},"destination":{"ip":"10.%d.0.53","port":53},"dns":{"question":{"name":"h%d.site%d.example.net","type":"A"},"response_code":"NOERROR"},"network":{"transport":"udp"}}' % (
            t, i, net, host // 250, host % 250, random.randrange(30000) + 30000, net,
            random.randrange(50), dom)
    else:
        s = '{"@timestamp":"%s","event":{"id":"e%d","dataset":"zeek.conn","kind":"event","category":["network"]},"source":{"ip":"10.%d.%d.%d","port":%d,"bytes":%d},"destination":{"ip":"198.51.%d.%d","port":443,"bytes":%d},"network":{"transport":"tcp","bytes":%d}}' % (
            t, i, net, host // 250, host % 250, random.randrange(30000) + 30000,
            random.randrange(10000), dom % 250, dom // 250 % 250, random.randrange(100000),
            random.randrange(110000))
    out.write(s + '\n')
