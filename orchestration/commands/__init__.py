"""One module per `optout` command."""
