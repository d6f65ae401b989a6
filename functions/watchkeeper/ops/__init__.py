"""The operator's view of an account from the terminal: incidents, one incident, and the doctor."""
