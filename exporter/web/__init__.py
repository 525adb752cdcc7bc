"""Web: the HTTP server, its TLS and auth configuration, and the drill-down pages."""
