"""Entry points a Flink client runs as a script (`flink run -py`): this folder holds nothing else,
so the script's own folder, which Python puts first on sys.path, shadows no module."""
