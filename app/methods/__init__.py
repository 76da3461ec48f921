"""Second-factor methods, one package each."""
