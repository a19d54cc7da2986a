"""What every signed-in user can do to their own account."""
