"""The vote-storm benchmark (`make bench`); kept apart from the tests."""
