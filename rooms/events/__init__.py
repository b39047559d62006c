"""Events: a programme of sessions, the organisers who share it, registration, a balanced
selection and personal invitations (the rows are in `rooms.models`: Conference, Organising,
Registration)."""
