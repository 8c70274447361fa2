"""The job configuration: conf/chainwatch.yaml into frozen dataclasses (job_config), with the
settings of sources (source_settings) and sinks (sink_settings) it contains."""
from chainwatch.config.job_config import (DEFAULT_CONFIG, DEFAULTS_DIR, Config, InventoryConfig, config_file,
                                          load_config)

__all__ = ["Config", "InventoryConfig", "DEFAULTS_DIR", "DEFAULT_CONFIG", "config_file", "load_config"]
