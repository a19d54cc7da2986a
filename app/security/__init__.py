"""Authentication building blocks: passwords, TOTP, sessions, the request guard and step-up."""
