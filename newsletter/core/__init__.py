"""Below everything: models, errors, URLs, text helpers, the safe YAML loader, cron maths,
the configuration."""
