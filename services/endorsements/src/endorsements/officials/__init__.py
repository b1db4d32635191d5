"""Officials of a city: appointment, removal, invitations."""
