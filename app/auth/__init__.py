"""Sign-in, second factor, step-up, first-administrator setup, invitations and 2FA enrolment."""
