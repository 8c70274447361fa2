"""chainwatch: streaming detection of multi-step cloud attack chains on Apache Flink."""

__version__ = "0.1.0"
