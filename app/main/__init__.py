"""The signed-in home page and the health endpoint."""
