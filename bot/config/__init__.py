"""Configuration: the environment (secrets, URLs) and one YAML file, composed from each package's settings."""

from bot.config.app import AppConfig, config_relative, load_config, load_config_aside
from bot.config.env import Settings
from bot.settings import (
    COMMANDER_ROLE,
    DEFAULT_ROLES,
    DEFAULT_SEVERITIES,
    Channels,
    ConfigError,
    Duration,
    IncidentSettings,
    Role,
    Service,
    Severity,
    Strict,
    parse_duration,
)

__all__ = [
    "COMMANDER_ROLE",
    "DEFAULT_ROLES",
    "DEFAULT_SEVERITIES",
    "AppConfig",
    "Channels",
    "ConfigError",
    "Duration",
    "IncidentSettings",
    "Role",
    "Service",
    "Settings",
    "Severity",
    "Strict",
    "config_relative",
    "load_config",
    "load_config_aside",
    "parse_duration",
]
