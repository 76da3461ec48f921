"""The authenticator-app (TOTP) second factor."""
