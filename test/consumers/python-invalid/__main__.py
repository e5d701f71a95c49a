"""A host without connection.host, from Python (test/integration/consumers.test.ts).

The generated ConnectionArgs class needs `host`, so Python itself refuses to build one without it; input that
arrives as a dict (from JSON or YAML config, say) reaches the component, which names the field.
"""

import pulumi_pyjoules as pyjoules

pyjoules.PyJoulesHost(
    "h1",
    connection={"user": "deploy"},
    client=pyjoules.ClientArgs(remote_write_url="https://prometheus.example.com/api/v1/write"),
)
