"""Parses a Prometheus text exposition (stdin) with the reference Python
client's parser (PyPI `prometheus-client`), which raises on a malformed line,
and prints it as JSON: {family: {"type": ..., "samples": [[name, labels, value]]}}."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    out[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
print(json.dumps(out))
