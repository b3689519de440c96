"""Message templates: the Jinja2 sandbox, MJML compiled once per version, rendering, the service."""
