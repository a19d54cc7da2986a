"""Request-wide web behaviour: the default-deny guard, security headers, safe redirects, errors."""
